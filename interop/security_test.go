package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// secureRequest is one produce or group consume over SASL_SSL with
// SCRAM-SHA-512 (see py/secure_client.py for the script side).
type secureRequest struct {
	Lib       string `json:"lib"`
	Op        string `json:"op"` // produce | consume
	Bootstrap string `json:"bootstrap"`
	CA        string `json:"ca"`
	Mechanism string `json:"mechanism"`
	User      string `json:"user"`
	Password  string `json:"password"`
	Topic     string `json:"topic"`
	Group     string `json:"group"`
	Count     int    `json:"count"`
	TimeoutMS int64  `json:"timeout_ms"`
}

type secureResult struct {
	Records int     `json:"records"`
	Error   *string `json:"error"`
}

// secureClients run a secureRequest with each client library and return
// how many records went through and the library's error text ("" if none).
// Each names the interop client whose availability check it shares, so a
// missing tool skips here (fails under CI) exactly as in TestInterop.
var secureClients = []struct {
	name  string
	avail *client
	run   func(ctx context.Context, r secureRequest) (int, string, error)
}{
	{"kcat", kcatClient, kcatSecure},
	{"confluent-kafka", confluentKafkaClient, scriptSecure("py", pythonBin(), "secure_client.py")},
	{"kafka-python", kafkaPythonClient, scriptSecure("py", pythonBin(), "secure_client.py")},
	{"kafkajs", kafkajsClient, scriptSecure("js", "node", "secure_client.js")},
	{"franz-go", franzClient, franzSecure},
}

func scriptSecure(dir string, argv ...string) func(ctx context.Context, r secureRequest) (int, string, error) {
	return func(ctx context.Context, r secureRequest) (int, string, error) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return 0, "", err
		}
		var res secureResult
		if err := runJSON(ctx, r, &res, abs, argv[0], argv[1:]...); err != nil {
			return 0, "", err
		}
		if res.Error != nil {
			return res.Records, *res.Error, nil
		}
		return res.Records, "", nil
	}
}

// kcatSecure runs kcat; its errors are what it prints on stderr.
func kcatSecure(ctx context.Context, r secureRequest) (int, string, error) {
	args := []string{"-b", r.Bootstrap, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + r.CA,
		"-X", "sasl.mechanisms=" + r.Mechanism, "-X", "sasl.username=" + r.User, "-X", "sasl.password=" + r.Password}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(r.TimeoutMS)*time.Millisecond)
	defer cancel()
	var stdin []byte
	if r.Op == "produce" {
		args = append(args, "-P", "-t", r.Topic, "-X", "acks=all", "-X", fmt.Sprintf("message.timeout.ms=%d", r.TimeoutMS-2000))
		for i := range r.Count {
			stdin = fmt.Appendf(stdin, "kcat-%d\n", i)
		}
	} else {
		args = append(args, "-C", "-G", r.Group, "-X", "auto.offset.reset=earliest", "-c", fmt.Sprint(r.Count), "-f", "%s\n", r.Topic)
	}
	out, err := runCmd(ctx, stdin, "", "kcat", args...)
	n := bytes.Count(out, []byte("\n"))
	switch {
	case err != nil:
		return n, err.Error(), nil
	case r.Op == "produce":
		return r.Count, "", nil
	}
	return n, "", nil
}

func franzSecure(ctx context.Context, r secureRequest) (int, string, error) {
	pem, err := os.ReadFile(r.CA)
	if err != nil {
		return 0, "", err
	}
	tlsCfg, err := caTLS(pem)
	if err != nil {
		return 0, "", err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(r.Bootstrap), kgo.DialTLSConfig(tlsCfg), kgo.RequestRetries(0),
		kgo.SASL(scram.Auth{User: r.User, Pass: r.Password}.AsSha512Mechanism())}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(r.TimeoutMS)*time.Millisecond)
	defer cancel()
	// kgo retries a failed connection until the context ends; a ping
	// reports the authentication error itself.
	if cl, err := kgo.NewClient(opts...); err != nil {
		return 0, "", err
	} else if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return 0, err.Error(), nil
	} else {
		cl.Close()
	}
	if r.Op == "produce" {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return 0, "", err
		}
		defer cl.Close()
		for i := range r.Count {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: r.Topic, Value: fmt.Appendf(nil, "franz-%d", i)}).FirstErr(); err != nil {
				return i, err.Error(), nil
			}
		}
		return r.Count, "", nil
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(r.Topic), kgo.ConsumerGroup(r.Group),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())...)
	if err != nil {
		return 0, "", err
	}
	defer cl.Close()
	n := 0
	for n < r.Count {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return n, ctx.Err().Error(), nil
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return n, errs[0].Err.Error(), nil
		}
		n += fs.NumRecords()
	}
	return n, "", nil
}

// squash lower-cases s and drops everything but letters, so that
// "Broker: Topic authorization failed", "TopicAuthorizationFailedError" and
// "TOPIC_AUTHORIZATION_FAILED" all contain "topicauthorizationfailed".
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// TestSecureClients: kcat, confluent-kafka, kafka-python, kafkajs and
// franz-go connect to a SASL_SSL listener with SCRAM-SHA-512 (a CA and a
// server certificate made by the test); a wrong password fails with an
// authentication error; without ACLs produce gets
// TOPIC_AUTHORIZATION_FAILED and a group consume an authorization error
// and reads nothing; each grant makes the same call succeed.
func TestSecureClients(t *testing.T) {
	if os.Getenv("EDDY_INTEROP_BROKERS") != "" {
		t.Skip("needs the in-process broker (it configures listeners, users and ACLs)")
	}
	s := testbroker.StartSecure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.DialTLSConfig(s.Certs.ClientTLS()),
		kgo.SASL(scram.Auth{User: s.AdminUser, Pass: s.AdminPass}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)

	for _, c := range secureClients {
		t.Run(c.name, func(t *testing.T) {
			requireAvailable(t, c.avail)
			user, topic, group := "u-"+c.name, "secure-"+c.name, "g-"+c.name
			if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "pw-" + c.name}}); err != nil {
				t.Fatal(err)
			}
			if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			if err := admin.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("seed")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			req := func(op, password string, count int) secureRequest {
				return secureRequest{Lib: c.name, Op: op, Bootstrap: s.Addr, CA: s.Certs.CAFile, Mechanism: "SCRAM-SHA-512",
					User: user, Password: password, Topic: topic, Group: group, Count: count, TimeoutMS: 15000}
			}
			run := func(r secureRequest, want ...string) int {
				t.Helper()
				if len(want) > 0 {
					r.TimeoutMS = 6000 // expected to fail: some clients only time out (and then report why)
				}
				n, errText, err := c.run(ctx, r)
				if err != nil {
					t.Fatalf("%s: %v", r.Op, err)
				}
				if len(want) == 0 {
					if errText != "" {
						t.Fatalf("%s: unexpected error: %s", r.Op, errText)
					}
					return n
				}
				for _, w := range want {
					if w != "" && strings.Contains(squash(errText), w) {
						return n
					}
				}
				t.Fatalf("%s: error %q, want one mentioning %v", r.Op, errText, want)
				return n
			}
			grant := func(b *kadm.ACLBuilder) {
				t.Helper()
				res, err := adm.CreateACLs(ctx, b)
				if err == nil {
					err = errors.Join(func() (errs []error) {
						for _, r := range res {
							errs = append(errs, r.Err)
						}
						return
					}()...)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			principal := "User:" + user

			// kafka-python 2.0 authenticates with SaslHandshake v0, after
			// which Kafka (and Eddy) answer a failure by closing the
			// connection: it can only report NoBrokersAvailable. The
			// broker's failure counter tells the two apart.
			failures := s.SecurityStats().AuthenticationFailures
			run(req("produce", "wrong-password", 1), "authenticat", "sasl", map[bool]string{true: "nobrokersavailable"}[c.name == "kafka-python"])
			if s.SecurityStats().AuthenticationFailures == failures {
				t.Fatal("the wrong password was not counted as a failed authentication")
			}
			run(req("produce", "pw-"+c.name, 2), "topicauthorizationfailed")
			grant(kadm.NewACLs().Allow(principal).Topics(topic).Operations(kadm.OpWrite))
			run(req("produce", "pw-"+c.name, 2))

			if n := run(req("consume", "pw-"+c.name, 3), "topicauthorizationfailed", "groupauthorizationfailed"); n != 0 {
				t.Fatalf("consume without ACLs read %d records", n)
			}
			grant(kadm.NewACLs().Allow(principal).Topics(topic).Operations(kadm.OpRead))
			if n := run(req("consume", "pw-"+c.name, 3), "groupauthorizationfailed"); n != 0 {
				t.Fatalf("consume without the group ACL read %d records", n)
			}
			grant(kadm.NewACLs().Allow(principal).Groups(group).Operations(kadm.OpRead))
			if n := run(req("consume", "pw-"+c.name, 3)); n < 3 {
				t.Fatalf("consume with ACLs read %d records, want 3", n)
			}
		})
	}
}

func caTLS(pem []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in the CA file")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
