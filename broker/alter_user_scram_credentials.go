package broker

// AlterUserScramCredentials (key 51), v0: deletes and upserts SCRAM
// credentials. An upsertion carries the salt, the iteration count and the
// salted password (the client salts: the password never travels); the
// broker keeps only the stored and server keys derived from it
// (auth.CredentialFromSaltedPassword), in data-dir/security. One result
// per user: UNSUPPORTED_SASL_MECHANISM for an unknown mechanism,
// UNACCEPTABLE_CREDENTIAL for an empty name, iterations outside
// [4096, 16384] or an empty salt, DUPLICATE_RESOURCE for a user and
// mechanism named twice, RESOURCE_NOT_FOUND for deleting what does not
// exist. A user with any invalid alteration has none applied. Needs ALTER
// on the cluster (authorize_apis.go).

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

func init() {
	register(kmsg.AlterUserSCRAMCredentials.Int16(), 0, 0, handleAlterUserScramCredentials)
}

func handleAlterUserScramCredentials(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	r := req.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)

	type change struct {
		mech string
		del  bool
		cred auth.ScramCredential
	}
	var order []string
	changes := map[string][]change{}
	failed := map[string]*kerr.Error{}
	msgs := map[string]string{}
	fail := func(user string, e *kerr.Error, msg string) {
		if failed[user] == nil {
			failed[user], msgs[user] = e, msg
		}
	}
	add := func(user string, ch change) {
		if _, seen := changes[user]; !seen {
			order = append(order, user)
			changes[user] = nil
		}
		if user == "" {
			fail(user, kerr.UnacceptableCredential, "empty user name")
			return
		}
		if ch.mech == "" {
			fail(user, kerr.UnsupportedSaslMechanism, "unknown SCRAM mechanism")
			return
		}
		for _, prev := range changes[user] {
			if prev.mech == ch.mech {
				fail(user, kerr.DuplicateResource, "mechanism "+ch.mech+" altered twice")
				return
			}
		}
		changes[user] = append(changes[user], ch)
	}
	for _, d := range r.Deletions {
		add(d.Name, change{mech: scramMechanismName(d.Mechanism), del: true})
	}
	for _, u := range r.Upsertions {
		mech := scramMechanismName(u.Mechanism)
		ch := change{mech: mech}
		if mech != "" {
			cred, err := auth.CredentialFromSaltedPassword(mech, u.Salt, int(u.Iterations), u.SaltedPassword)
			if err != nil {
				fail(u.Name, kerr.UnacceptableCredential, err.Error())
			}
			ch.cred = cred
		}
		add(u.Name, ch)
	}
	for _, user := range order {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = user
		if e := failed[user]; e != nil {
			msg := msgs[user]
			res.ErrorCode, res.ErrorMessage = e.Code, &msg
			resp.Results = append(resp.Results, res)
			continue
		}
		for _, ch := range changes[user] {
			var err error
			if ch.del {
				err = c.b.creds.Delete(user, ch.mech)
			} else {
				err = c.b.creds.Upsert(user, ch.cred)
			}
			if err != nil {
				code := kerr.UnknownServerError.Code
				if errors.Is(err, auth.ErrNoSuchUser) {
					code = kerr.ResourceNotFound.Code
				}
				res.ErrorCode, res.ErrorMessage = code, errorMessage(err)
				break
			}
			c.logger.Info("SCRAM credential altered", "user", user, "mechanism", ch.mech, "deleted", ch.del, "by", c.sec.principal)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}
