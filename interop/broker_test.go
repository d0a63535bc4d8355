package interop

import (
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// startBroker returns the bootstrap address ("host:port") of a broker that
// the interop tests run against. Every test reaches the broker through this
// one helper.
//
// EDDY_INTEROP_BROKERS, when set, names an external broker (a
// comma-separated list of host:port); the tests then use it as is and only
// create topics with fresh names on it.
//
// Otherwise an in-process broker is started and stopped with the test.
// Until Eddy's broker is ready this is franz-go's kfake; it is meant to be
// replaced by Eddy's in-process broker (broker.New(...)).
func startBroker(t *testing.T) string {
	t.Helper()
	if addrs := strings.TrimSpace(os.Getenv("EDDY_INTEROP_BROKERS")); addrs != "" {
		t.Logf("interop: using external broker(s) %s", addrs)
		return addrs
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		t.Fatal("start broker: no listen address")
	}
	return strings.Join(addrs, ",")
}
