package cli

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/eddy-streaming/eddy/broker"
)

// newServeCommand returns `eddy serve`: the broker on an embedded default.
func newServeCommand() *cobra.Command {
	var (
		dataDir    string
		listen     string
		advertised string
		logLevel   string
		configFile string
		nodeID     int32
		fsync      bool
		sets       []string
		httpAddr   string
		pprofAddr  string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Eddy broker",
		Long: `Run the Eddy broker: a Kafka-protocol server with its data in --data-dir.

Broker settings use Kafka's names (auto.create.topics.enable, num.partitions,
log.retention.ms, log.segment.bytes, ...). They come from --config FILE, a
server.properties-style file of key=value lines, and from --set key=value,
which wins over the file. SIGINT or SIGTERM shuts down cleanly: connections
close, every log is fsynced and closed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			settings := map[string]string{}
			if configFile != "" {
				m, err := readProperties(configFile)
				if err != nil {
					return err
				}
				settings = m
			}
			if cmd.Flags().Changed("fsync") {
				if fsync {
					settings["log.flush.interval.messages"] = "1"
				} else {
					settings["log.flush.interval.messages"] = "9223372036854775807"
				}
			}
			for _, kv := range sets {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--set %q: want key=value", kv)
				}
				settings[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return err
			}
			unlock, err := lockDataDir(dataDir)
			if err != nil {
				return err
			}
			defer unlock()

			b, err := broker.New(
				broker.WithDataDir(dataDir),
				broker.WithListen(listen),
				broker.WithAdvertisedAddr(advertised),
				broker.WithNodeID(nodeID),
				broker.WithLogger(logger),
				broker.WithConfig(settings),
			)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "Eddy is serving Kafka clients on %s (data in %s). Ctrl-C stops it.\n", b.Addr(), dataDir)
			var httpErr error
			if httpAddr != "" {
				httpErr = serveHTTP(ctx, b, dataDir, httpAddr, logger, func(addr string) {
					fmt.Fprintf(cmd.OutOrStdout(), "Console and HTTP API on %s/ (metrics at /metrics).\n", addr)
				})
				if httpErr != nil {
					stop()
				}
			}
			if pprofAddr != "" {
				if err := servePprof(ctx, pprofAddr, logger, func(addr string) {
					fmt.Fprintf(cmd.OutOrStdout(), "Go runtime profiles at http://%s/debug/pprof/.\n", addr)
				}); err != nil {
					httpErr = errors.Join(httpErr, fmt.Errorf("--pprof: %w", err))
					stop()
				}
			}
			<-ctx.Done()
			logger.Info("shutting down")
			return errors.Join(httpErr, b.Close())
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "./eddy-data", "directory holding all broker data")
	f.StringVar(&listen, "listen", "127.0.0.1:9092", "address the Kafka listener binds")
	f.StringVar(&advertised, "advertised-addr", "", "host:port given to clients (default: the listen address)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&configFile, "config", "", "server.properties-style file of broker settings (key=value)")
	f.Int32Var(&nodeID, "node-id", 0, "this broker's node id")
	f.BoolVar(&fsync, "fsync", true, "fsync before acknowledging acks=all and before consumers see data (false: rely on the OS page cache)")
	f.StringVar(&httpAddr, "http", "127.0.0.1:8080", "address of the HTTP gateway, web console and /metrics (empty: none)")
	f.StringVar(&pprofAddr, "pprof", "", "address serving Go runtime profiles at /debug/pprof/ (empty: none); for performance work, keep it on loopback")
	f.StringArrayVar(&sets, "set", nil, "broker setting key=value (repeatable), e.g. --set num.partitions=3")
	return cmd
}

// readProperties parses a Java-properties-style file: key=value or key:
// value lines, # and ! comments, blank lines.
func readProperties(name string) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		i := strings.IndexAny(s, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("%s:%d: want key=value", name, line)
		}
		m[strings.TrimSpace(s[:i])] = strings.TrimSpace(s[i+1:])
	}
	return m, sc.Err()
}

// lockDataDir takes an exclusive lock on the data directory so that two
// brokers never write the same logs.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another Eddy process: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
