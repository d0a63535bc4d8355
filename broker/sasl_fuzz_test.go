package broker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/eddy-streaming/eddy/auth"
	"github.com/eddy-streaming/eddy/broker"
	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// startSASLPlaintext starts a broker with one SASL_PLAINTEXT listener
// (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and the user alice/pw.
func startSASLPlaintext(t testing.TB, opts ...broker.Option) (*broker.Broker, string) {
	dir := t.TempDir()
	testbroker.AddUser(t, dir, "alice", "pw")
	b := testbroker.Start(t, append([]broker.Option{broker.WithDataDir(dir), broker.WithListener(broker.Listener{
		Name: "SASL", Addr: "127.0.0.1:0", Protocol: broker.ProtocolSASLPlaintext,
		Mechanisms: []string{auth.Plain, auth.ScramSHA256, auth.ScramSHA512},
	})}, opts...)...)
	return b, b.ListenerAddr("SASL")
}

var fuzzMechanisms = []string{auth.Plain, auth.ScramSHA256, auth.ScramSHA512, "GSSAPI", ""}

// saslExchange runs one hostile SASL exchange on a new connection: a
// SaslHandshake of version 0 or 1 for a mechanism, then payload as a
// SaslAuthenticate (v1) or a bare token (v0), cut after cut bytes, then
// the write side is closed. It drains the answers and returns whether the
// broker closed the connection.
func saslExchange(t testing.TB, addr string, v0 bool, mech string, payload []byte, cut int) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = mech
	version := int16(1)
	if v0 {
		version = 0
	}
	var frame []byte
	frame = append(frame, frameOf(hs, version, 1)...)
	if v0 {
		frame = binary.BigEndian.AppendUint32(frame, uint32(len(payload)))
		frame = append(frame, payload...)
	} else {
		au := kmsg.NewPtrSASLAuthenticateRequest()
		au.SASLAuthBytes = payload
		frame = append(frame, frameOf(au, 2, 2)...)
	}
	if cut >= 0 && cut < len(frame) {
		frame = frame[:cut]
	}
	if _, err := nc.Write(frame); err != nil {
		return // already closed: fine
	}
	nc.(*net.TCPConn).CloseWrite()
	// Whatever was sent, the broker answers or closes, and in the end the
	// connection ends (we sent EOF): it never hangs.
	if _, err := io.Copy(io.Discard, nc); err != nil && !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("connection did not end: %v", err)
	}
}

func frameOf(req kmsg.Request, version int16, corr int32) []byte {
	return encodeRequest(req, version, corr)
}

// brokerServes checks the broker still authenticates a real client.
func brokerServes(t testing.TB, addr string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(plain.Auth{User: "alice", Pass: "pw"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Ping(testCtxTB(t)); err != nil {
		t.Fatalf("broker no longer serves: %v", err)
	}
}

// FuzzSASLExchange runs hostile SASL exchanges against a real broker: the
// broker must close or answer each connection, and keep serving.
//
//	go test ./broker -run '^$' -fuzz FuzzSASLExchange -fuzztime 1m
func FuzzSASLExchange(f *testing.F) {
	// The test log cannot be written from inside the fuzz target.
	_, addr := startSASLPlaintext(f, broker.WithLogger(slog.New(slog.DiscardHandler)))
	for _, s := range []struct {
		v0      bool
		mech    uint8
		payload string
		cut     int
	}{
		{false, 0, "\x00alice\x00pw", -1},
		{true, 0, "\x00alice\x00pw", -1},
		{false, 0, "\x00alice\x00wrong", -1},
		{false, 1, "n,,n=alice,r=abc", -1},
		{true, 2, "n,,n=alice,r=abc", -1},
		{false, 2, ",,,", -1},
		{true, 1, ",,,", -1},
		{false, 2, "n,,n=alice,r=abc", 30},
		{true, 0, "\x00alice\x00pw", 35},
		{false, 3, "x", -1},
		{true, 4, "", 3},
		{false, 0, string(make([]byte, 600<<10)), -1}, // beyond the pre-authentication limit
	} {
		f.Add(s.v0, s.mech, []byte(s.payload), s.cut)
	}
	f.Fuzz(func(t *testing.T, v0 bool, mech uint8, payload []byte, cut int) {
		saslExchange(t, addr, v0, fuzzMechanisms[int(mech)%len(fuzzMechanisms)], payload, cut)
	})
	brokerServes(f, addr)
}

// TestMalformedSASLClosesOnlyThatConnection: broken SASL exchanges close
// their own connection while an authenticated client on another one keeps
// working.
func TestMalformedSASLClosesOnlyThatConnection(t *testing.T) {
	_, addr := startSASLPlaintext(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.SASL(plain.Auth{User: "alice", Pass: "pw"}.AsMechanism()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testCtx(t)
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{
		[]byte("n,,n=alice,r=abc"), // truncated below
		[]byte(",,,"),
		[]byte("\x00\x00\x00\x00\x00"),
	} {
		for _, v0 := range []bool{false, true} {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c := &rawConn{t: t, nc: nc}
			hs := kmsg.NewPtrSASLHandshakeRequest()
			hs.Mechanism = auth.ScramSHA512
			version := int16(1)
			if v0 {
				version = 0
			}
			c.write(encodeRequest(hs, version, 1))
			if _, body, err := c.read(); err != nil || len(body) < 2 || body[0] != 0 || body[1] != 0 {
				t.Fatalf("handshake: %v %x", err, body)
			}
			var frame []byte
			if v0 {
				frame = append(binary.BigEndian.AppendUint32(nil, uint32(len(bad))), bad...)
			} else {
				au := kmsg.NewPtrSASLAuthenticateRequest()
				au.SASLAuthBytes = bad
				frame = encodeRequest(au, 2, 2)
			}
			if bad[0] == 'n' {
				frame = frame[:len(frame)-3] // truncated: the broker waits, then sees it never completes
				c.write(frame)
				nc.(*net.TCPConn).CloseWrite()
			} else {
				c.write(frame)
			}
			if !v0 && bad[0] != 'n' {
				_, body, err := c.read()
				resp := kmsg.NewPtrSASLAuthenticateResponse()
				resp.Version = 2
				if err != nil || resp.ReadFrom(skipHeaderTags(body)) != nil || resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
					t.Fatalf("malformed %q: want SASL_AUTHENTICATION_FAILED, got %v %+v", bad, err, resp)
				}
			}
			c.expectClosed()
			nc.Close()
			if err := cl.Ping(ctx); err != nil {
				t.Fatalf("the authenticated client broke after %q: %v", bad, err)
			}
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "still-here", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// skipHeaderTags drops the empty tag section of a flexible response header.
func skipHeaderTags(body []byte) []byte {
	if len(body) > 0 {
		return body[1:]
	}
	return body
}

func testCtxTB(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
