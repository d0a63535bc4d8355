package broker

// SaslAuthenticate (key 36), v0-v2: carries one SASL message of the
// mechanism chosen in SaslHandshake each way. A failure (wrong
// credentials or a malformed message) is answered with
// SASL_AUTHENTICATION_FAILED after the failure throttle's delay, and the
// connection is closed. SessionLifetimeMs (v1+) is 0: sessions do not
// expire (no re-authentication, KIP-368).

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.SASLAuthenticate.Int16(), 0, 2, handleSaslAuthenticate) }

func handleSaslAuthenticate(c *conn, req kmsg.Request, p *pending) (kmsg.Response, error) {
	r := req.(*kmsg.SASLAuthenticateRequest)
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.sec.session == nil || c.sec.rawSASL {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		msg := "SaslAuthenticate without a SaslHandshake v1"
		resp.ErrorMessage = &msg
		p.closeAfter = true
		return resp, nil
	}
	out, delay, err := c.saslStep(r.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = authFailedCode
		msg := "Authentication failed: invalid credentials or SASL message with mechanism " + c.sec.mechanism
		resp.ErrorMessage = &msg
		p.closeAfter = true
		time.AfterFunc(delay, func() { p.finish(resp, nil) })
		return nil, nil
	}
	resp.SASLAuthBytes = out
	return resp, nil
}
