package broker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-streaming/eddy/bench"
	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// BenchmarkSecurity measures the cost of SASL_SSL (TLS, SCRAM-SHA-512,
// ACLs checked on every request) beside plaintext: acks=all produce
// of b.N 1 KiB records with franz-go, then consuming them, on one broker
// with a listener of each kind. The principals are not super users, so
// every request goes through the authorizer.
//
//	go test -run X -bench Security -benchtime 100000x ./broker/
func BenchmarkSecurity(b *testing.B) {
	s := testbroker.StartSecure(b,
		broker.WithListener(broker.Listener{Name: "PLAINTEXT", Addr: "127.0.0.1:0"}))
	ctx := context.Background()
	admin, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.DialTLSConfig(s.Certs.ClientTLS()),
		kgo.SASL(scram.Auth{User: s.AdminUser, Pass: s.AdminPass}.AsSha512Mechanism()))
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "bench", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bench-pw"}}); err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{"User:bench", "User:ANONYMOUS"} {
		if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow(p).Topics("sec-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpAll)); err != nil {
			b.Fatal(err)
		}
		if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow(p).Groups("*").Operations(kadm.OpAll)); err != nil {
			b.Fatal(err)
		}
		if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow(p).Clusters().Operations(kadm.OpAll)); err != nil {
			b.Fatal(err)
		}
	}
	listeners := []struct {
		name string
		addr string
		opts []kgo.Opt
	}{
		{"plaintext", s.ListenerAddr("PLAINTEXT"), nil},
		{"sasl_ssl", s.Addr, []kgo.Opt{kgo.DialTLSConfig(s.Certs.ClientTLS()), kgo.SASL(scram.Auth{User: "bench", Pass: "bench-pw"}.AsSha512Mechanism())}},
	}
	run := 0
	for _, l := range listeners {
		b.Run(fmt.Sprintf("listener=%s", l.name), func(b *testing.B) {
			run++
			cfg := benchConfig(l.addr, bench.ClientKgo, fmt.Sprintf("sec-%s-%d", l.name, run), 1024)
			cfg.ClientOpts = l.opts
			cfg.Records = int64(b.N)
			b.ResetTimer()
			res, err := bench.Produce(ctx, cfg)
			checkRun(b, res, err)
			b.ReportMetric(res.MBPerSec, "produce-MB/s")
			cres, err := bench.Consume(ctx, cfg)
			b.StopTimer()
			checkRun(b, cres, err)
			b.ReportMetric(cres.MBPerSec, "consume-MB/s")
		})
	}
}
