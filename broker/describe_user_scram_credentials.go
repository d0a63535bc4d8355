package broker

// DescribeUserScramCredentials (key 50), v0: which SCRAM mechanisms (and
// iteration counts) each user has credentials for; never the credentials.
// No users named: every user. A named user without credentials gets
// RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE. Needs
// DESCRIBE on the cluster (authorize_apis.go).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(kmsg.DescribeUserSCRAMCredentials.Int16(), 0, 0, handleDescribeUserScramCredentials)
}

func handleDescribeUserScramCredentials(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	users := c.b.creds.Users()
	byName := map[string]int{}
	for i, u := range users {
		byName[u.Name] = i
	}
	result := func(name string) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		i, ok := byName[name]
		if !ok {
			res.ErrorCode = kerr.ResourceNotFound.Code
			msg := "no SCRAM credentials for user " + name
			res.ErrorMessage = &msg
			return res
		}
		for _, m := range users[i].Mechanisms {
			ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
			ci.Mechanism, ci.Iterations = scramMechanismCode(m.Mechanism), int32(m.Iterations)
			res.CredentialInfos = append(res.CredentialInfos, ci)
		}
		return res
	}
	if len(r.Users) == 0 {
		for _, u := range users {
			resp.Results = append(resp.Results, result(u.Name))
		}
		return resp, nil
	}
	count := map[string]int{}
	for _, u := range r.Users {
		count[u.Name]++
	}
	for _, u := range r.Users {
		if count[u.Name] < 0 {
			continue // already answered as a duplicate
		}
		if count[u.Name] > 1 {
			count[u.Name] = -1
			res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = u.Name, kerr.DuplicateResource.Code
			resp.Results = append(resp.Results, res)
			continue
		}
		resp.Results = append(resp.Results, result(u.Name))
	}
	return resp, nil
}
