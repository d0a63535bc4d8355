package interop

import (
	"os"
	"strings"
	"testing"

	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// startBroker returns the bootstrap address ("host:port") of a broker that
// the interop tests run against. Every test reaches the broker through this
// one helper.
//
// EDDY_INTEROP_BROKERS, when set, names an external broker (a
// comma-separated list of host:port); the tests then use it as is and only
// create topics with fresh names on it.
//
// Otherwise Eddy's broker is started in-process on a random loopback port,
// with its data in a temporary directory, and stopped with the test.
func startBroker(t *testing.T) string {
	t.Helper()
	if addrs := strings.TrimSpace(os.Getenv("EDDY_INTEROP_BROKERS")); addrs != "" {
		t.Logf("interop: using external broker(s) %s", addrs)
		return addrs
	}
	return testbroker.Start(t).Addr()
}
