package broker

// CreateAcls (key 30), v0-v3: adds ACL bindings (see auth.ACL for the
// model). Each creation is validated on its own: an invalid one gets
// INVALID_REQUEST with the reason, the valid ones are added. The ACLs are
// persisted (data-dir/security/acls.json) before the answer. Needs ALTER
// on the cluster (authorize_apis.go).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

func init() { register(kmsg.CreateACLs.Int16(), 0, 3, handleCreateAcls) }

func handleCreateAcls(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	r := req.(*kmsg.CreateACLsRequest)
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	results := make([]kmsg.CreateACLsResponseResult, len(r.Creations))
	for i := range results {
		results[i] = kmsg.NewCreateACLsResponseResult()
	}
	resp.Results = results
	if c.b.authz == nil {
		for i := range results {
			results[i].ErrorCode, results[i].ErrorMessage = securityDisabled()
		}
		return resp, nil
	}
	acls := make([]auth.ACL, len(r.Creations))
	for i, cr := range r.Creations {
		pt := cr.ResourcePatternType
		if r.Version == 0 {
			pt = kmsg.ACLResourcePatternTypeLiteral
		}
		acls[i] = auth.ACL{ResourceType: cr.ResourceType, ResourceName: cr.ResourceName, PatternType: pt,
			Principal: cr.Principal, Host: cr.Host, Operation: cr.Operation, Permission: cr.PermissionType}
	}
	errs, err := c.b.authz.Create(acls)
	for i := range results {
		switch {
		case errs[i] != nil:
			results[i].ErrorCode, results[i].ErrorMessage = kerr.InvalidRequest.Code, errorMessage(errs[i])
		case err != nil:
			results[i].ErrorCode, results[i].ErrorMessage = kerr.UnknownServerError.Code, errorMessage(err)
		default:
			c.logger.Info("ACL created", "acl", acls[i].String(), "by", c.sec.principal)
		}
	}
	return resp, nil
}
