package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clientID is the Kafka client.id of every CLI connection.
const clientID = "eddy-cli"

// newClient builds a kgo client for the configured brokers with the given
// extra options.
func (a *app) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(a.brokerList()...),
		kgo.ClientID(clientID),
		kgo.WithLogger(newKgoLogger(a.logger())),
	}
	base = append(base, a.secOpts...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return cl, nil
}

// newAdmin builds an admin client; the returned close function releases it.
func (a *app) newAdmin() (*kadm.Client, func(), error) {
	cl, err := a.newClient()
	if err != nil {
		return nil, nil, err
	}
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32(a.timeout.Milliseconds()))
	return adm, cl.Close, nil
}

// adminContext bounds an admin operation by --timeout.
func (a *app) adminContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, a.timeout)
}

// kgoLogger adapts a *slog.Logger to kgo.Logger.
type kgoLogger struct{ l *slog.Logger }

// newKgoLogger returns a kgo.Logger that writes franz-go client logs to l at
// the matching slog level.
func newKgoLogger(l *slog.Logger) kgo.Logger { return kgoLogger{l} }

// Level reports the most verbose kgo level enabled on the slog logger.
func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case k.l.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case k.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

// Log forwards one kgo log line to slog.
func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var l slog.Level
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	case kgo.LogLevelDebug:
		l = slog.LevelDebug
	default:
		return
	}
	k.l.Log(context.Background(), l, msg, append(keyvals, "component", "kgo")...)
}

// kafkaError formats an error returned by a Kafka request so that the
// protocol error name comes first, e.g.
// "TOPIC_ALREADY_EXISTS: Topic 'foo' already exists.". msg is the optional
// error message the broker sent alongside the code.
func kafkaError(err error, msg string) string {
	if err == nil {
		return ""
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		if msg = strings.TrimSpace(msg); msg != "" {
			return ke.Message + ": " + msg
		}
		return ke.Message + ": " + ke.Description
	}
	if msg = strings.TrimSpace(msg); msg != "" {
		return err.Error() + ": " + msg
	}
	return err.Error()
}

// newTable returns a tabwriter in the layout rpk uses: left aligned columns
// separated by two spaces.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes one tab-separated row to a table.
func row(w io.Writer, cols ...any) {
	for i, c := range cols {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		fmt.Fprint(w, c)
	}
	io.WriteString(w, "\n")
}

// parseKeyValues parses repeated key=value flags, preserving order.
func parseKeyValues(flag string, kvs []string) ([][2]string, error) {
	out := make([][2]string, 0, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid %s %q: want key=value", flag, kv)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}
