// Package testbroker provides the Kafka-protocol cluster that the CLI and
// bench tests run against: Eddy's own broker, started in-process on a
// random loopback port, or any running cluster named by EDDY_TEST_BROKERS.
package testbroker

import (
	"os"
	"strings"
	"testing"

	eddytest "github.com/eddy-streaming/eddy/internal/testbroker"
)

// Env names the environment variable that, when set to a comma-separated
// broker list, makes Start return it instead of starting a broker. Tests
// must then use topic names that are unique to the run.
const Env = "EDDY_TEST_BROKERS"

// Start returns the seed broker addresses of a cluster for tb, starting an
// in-process Eddy broker that is shut down when tb ends unless
// EDDY_TEST_BROKERS is set.
func Start(tb testing.TB) []string {
	tb.Helper()
	if env := strings.TrimSpace(os.Getenv(Env)); env != "" {
		return strings.Split(env, ",")
	}
	return []string{eddytest.Start(tb).Addr()}
}
