package cli

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/console"
	"github.com/eddy-streaming/eddy/demo"
	"github.com/eddy-streaming/eddy/gateway"
)

// newDemoCommand returns `eddy demo`: broker, gateway, console, a click
// generator, a stream processor and a live dashboard in one command.
func newDemoCommand() *cobra.Command {
	var (
		dataDir  string
		listen   string
		httpAddr string
		rate     float64
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the click-tracking demo: broker, console, shop clicks, a stream processor and a live dashboard",
		Long: `Run the click-tracking demo in one process: an Eddy broker, the HTTP gateway
and web console, a generator posting a coffee shop's clicks (views,
add-to-cart, purchases) to the gateway as the shop's backend would, a stream
processor built with Eddy's stream library that counts product popularity
and purchases in sliding 30 s windows and flags bursts, and a live dashboard
at /demo/ fed by the processor's output topics. Ctrl-C stops it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if dataDir == "" {
				dir, err := os.MkdirTemp("", "eddy-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				dataDir = dir
			}
			b, err := broker.New(
				broker.WithDataDir(dataDir),
				broker.WithListen(listen),
				broker.WithLogger(logger),
				broker.WithConfig(map[string]string{"group.initial.rebalance.delay.ms": "0"}),
			)
			if err != nil {
				return err
			}
			defer b.Close()
			ui := http.NewServeMux()
			ui.Handle("/demo/", demo.Handler())
			ui.Handle("/", console.Handler())
			gw, err := gateway.New(
				gateway.WithBrokers(loopbackAddr(b.Addr())),
				gateway.WithMetrics(b.Registry(), b.Registry()),
				gateway.WithUI(ui),
				gateway.WithLogger(logger),
			)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", httpAddr)
			if err != nil {
				gw.Close()
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			served := make(chan error, 1)
			go func() {
				defer gw.Close()
				served <- gw.Serve(ctx, ln)
			}()
			base := "http://" + ln.Addr().String()
			fmt.Fprintf(cmd.OutOrStdout(), "Eddy demo running. Kafka on %s.\n  Dashboard: %s/demo/\n  Console:   %s/\nCtrl-C stops it.\n", b.Addr(), base, base)
			err = demo.Run(ctx, demo.Config{
				Brokers:    []string{loopbackAddr(b.Addr())},
				GatewayURL: base,
				Registry:   b.Registry(),
				Generator:  demo.Generator{Rate: rate, Seed: uint64(time.Now().UnixNano())},
				Logger:     logger,
			})
			stop()
			if serr := <-served; err == nil {
				err = serr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "", "broker data directory (default: a temporary one, removed at exit)")
	f.StringVar(&listen, "listen", "127.0.0.1:9092", "address of the Kafka listener")
	f.StringVar(&httpAddr, "http", "127.0.0.1:8080", "address of the dashboard, console and HTTP API")
	f.Float64Var(&rate, "rate", 40, "shop clicks per second (flash sales add more)")
	f.StringVar(&logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}
