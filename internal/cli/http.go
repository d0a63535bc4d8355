package cli

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streaming/eddy/auth/httpauth"
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
	scheme := "http"
	if b.SecurityEnabled() {
		// Basic authentication sends the password with every request:
		// serve HTTPS with the broker's certificate when it has one.
		if cfg := b.TLSConfig(); cfg != nil {
			ln, scheme = tls.NewListener(ln, cfg), "https"
		} else {
			logger.Warn("the HTTP gateway requires authentication but the broker has no TLS listener: passwords cross the network in the clear")
		}
	}
	ready(scheme + "://" + ln.Addr().String())
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
//
// With security on, its Kafka client connects in-process
// (broker.DialInternal) and every HTTP request needs a broker user's
// password and the ACLs of its route (auth/httpauth).
func newGateway(b *broker.Broker, logger *slog.Logger, opts ...gateway.Option) (*gateway.Server, error) {
	if b.SecurityEnabled() {
		opts = append(opts, gateway.WithClientOptions(kgo.Dialer(b.DialInternal)), gateway.WithMiddleware(httpauth.Middleware(b)))
	}
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
