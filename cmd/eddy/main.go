// Command eddy is the single Eddy binary: the broker (eddy serve) and an
// rpk-style client CLI that works against Eddy or any Kafka cluster.
package main

import (
	"os"

	"github.com/eddy-streaming/eddy/internal/cli"
)

func main() {
	if err := cli.Execute(); err != nil {
		os.Exit(1)
	}
}
