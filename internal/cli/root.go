// Package cli implements the eddy command line: an rpk-style client for
// topics, producing, consuming and benchmarking that works against Eddy or
// any Kafka-protocol cluster, plus the hook for the broker's serve command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultBrokers is the seed broker list used when neither --brokers nor
// EDDY_BROKERS is given.
const DefaultBrokers = "127.0.0.1:9092"

// BrokersEnv is the environment variable consulted for the seed brokers when
// the --brokers flag is not set explicitly.
const BrokersEnv = "EDDY_BROKERS"

// app holds the state shared by all commands of one root command: the
// persistent flags and the logger built from them.
type app struct {
	brokers  string
	logLevel string
	timeout  time.Duration
	security clientSecurity // security.go
	secOpts  []kgo.Opt      // resolved by init

	log *slog.Logger
}

// Execute runs the eddy root command with os.Args, cancelling its context on
// SIGINT or SIGTERM. An error is printed to stderr and returned so that main
// can exit non-zero.
func Execute() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(root.ErrOrStderr(), "eddy: %v\n", err)
		return err
	}
	return nil
}

// NewRoot builds a fresh eddy command tree. Every call returns independent
// commands and flag state, so tests can run many commands in one process.
func NewRoot() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:   "eddy",
		Short: "Eddy: a single-binary event streaming platform speaking the Kafka protocol",
		Long: `Eddy is a single-binary event streaming platform whose broker speaks the
Apache Kafka wire protocol. The client commands (topic, produce, consume,
bench) work against Eddy or any Kafka-compatible cluster.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.init(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&a.brokers, "brokers", "b", DefaultBrokers,
		"comma-separated seed brokers (host:port); env "+BrokersEnv+" is used when the flag is not given")
	pf.StringVar(&a.logLevel, "log-level", "warn", "client log level: debug, info, warn, error or none")
	pf.DurationVar(&a.timeout, "timeout", 15*time.Second, "timeout for admin requests (topic commands, offset lookups)")
	a.security.addFlags(pf)

	root.AddCommand(
		newVersionCommand(),
		newTopicCommand(a),
		newProduceCommand(a),
		newConsumeCommand(a),
		newGroupCommand(a),
		newDemoCommand(),
		newBenchCommand(a),
		newServeCommand(),
		newUserCommand(a),
		newACLCommand(a),
	)
	return root
}

// init resolves the persistent flags once the command line is parsed.
func (a *app) init(cmd *cobra.Command) error {
	if f := cmd.Flags().Lookup("brokers"); f != nil && !f.Changed {
		if env := strings.TrimSpace(os.Getenv(BrokersEnv)); env != "" {
			a.brokers = env
		}
	}
	if len(a.brokerList()) == 0 {
		return errors.New("no brokers given (--brokers or " + BrokersEnv + ")")
	}
	secOpts, err := a.security.opts()
	if err != nil {
		return err
	}
	a.secOpts = secOpts
	var w io.Writer = cmd.ErrOrStderr()
	lvl, err := parseLogLevel(a.logLevel)
	if err != nil {
		return err
	}
	if lvl == levelNone {
		w = io.Discard
	}
	a.log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
	return nil
}

// brokerList splits the --brokers value into host:port entries.
func (a *app) brokerList() []string {
	var out []string
	for _, b := range strings.Split(a.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// logger returns the command logger, falling back to a discard logger when
// init has not run (e.g. a command invoked directly in a test).
func (a *app) logger() *slog.Logger {
	if a.log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return a.log
}

// levelNone disables logging altogether.
const levelNone = slog.Level(100)

func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "none", "off":
		return levelNone, nil
	}
	return 0, fmt.Errorf("invalid --log-level %q (want debug, info, warn, error or none)", s)
}
