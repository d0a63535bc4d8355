// Package testbroker provides the Kafka-protocol cluster that the CLI and
// bench tests run against. It is the one place to change to test against a
// different broker: today an in-process franz-go kfake cluster, or any
// running cluster named by EDDY_TEST_BROKERS.
package testbroker

import (
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Env names the environment variable that, when set to a comma-separated
// broker list, makes Start return it instead of starting a cluster. Tests
// must then use topic names that are unique to the run.
const Env = "EDDY_TEST_BROKERS"

// Start returns the seed broker addresses of a cluster for tb, starting a
// single-broker in-process cluster that is shut down when tb ends unless
// EDDY_TEST_BROKERS is set.
func Start(tb testing.TB) []string {
	tb.Helper()
	if env := strings.TrimSpace(os.Getenv(Env)); env != "" {
		return strings.Split(env, ",")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatalf("starting kfake cluster: %v", err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}
