package cli

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/console"
	"github.com/eddy-streaming/eddy/gateway"
)

// serveHTTP starts the HTTP gateway, the web console and /metrics for b on
// addr (alert rules kept in dataDir/alerts.json), in the background until ctx ends. It returns once listening, or
// with the error that prevented it.
func serveHTTP(ctx context.Context, b *broker.Broker, dataDir, addr string, logger *slog.Logger, ready func(addr string)) error {
	gw, err := newGateway(b, logger, gateway.WithAlertsFile(filepath.Join(dataDir, "alerts.json")))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		gw.Close()
		return err
	}
	ready(ln.Addr().String())
	go func() {
		defer gw.Close()
		if err := gw.Serve(ctx, ln); err != nil {
			logger.Error("http gateway", "err", err)
		}
	}()
	return nil
}

// newGateway returns a gateway (with the console) for an in-process
// broker, talking to it over loopback.
func newGateway(b *broker.Broker, logger *slog.Logger, opts ...gateway.Option) (*gateway.Server, error) {
	return gateway.New(append([]gateway.Option{
		gateway.WithBrokers(loopbackAddr(b.Addr())),
		gateway.WithMetrics(b.Registry(), b.Registry()),
		gateway.WithUI(console.Handler()),
		gateway.WithLogger(logger),
	}, opts...)...)
}

// loopbackAddr turns a wildcard listen address into one to dial.
func loopbackAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
