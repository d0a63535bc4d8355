package broker

// DeleteAcls (key 31), v0-v3: removes the ACLs each filter selects and
// returns them per filter. Persisted before the answer. Needs ALTER on
// the cluster (authorize_apis.go).

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/auth"
)

func init() { register(kmsg.DeleteACLs.Int16(), 0, 3, handleDeleteAcls) }

func handleDeleteAcls(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	r := req.(*kmsg.DeleteACLsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	results := make([]kmsg.DeleteACLsResponseResult, len(r.Filters))
	for i := range results {
		results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	resp.Results = results
	if c.b.authz == nil {
		for i := range results {
			results[i].ErrorCode, results[i].ErrorMessage = securityDisabled()
		}
		return resp, nil
	}
	filters := make([]auth.Filter, len(r.Filters))
	for i, f := range r.Filters {
		filters[i] = aclFilter(r.Version, f.ResourceType, f.ResourceName, f.ResourcePatternType, f.Principal, f.Host, f.Operation, f.PermissionType)
	}
	removed, err := c.b.authz.Delete(filters)
	for i := range results {
		if err != nil {
			results[i].ErrorCode, results[i].ErrorMessage = kerr.UnknownServerError.Code, errorMessage(err)
			continue
		}
		for _, acl := range removed[i] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = acl.ResourceType, acl.ResourceName, acl.PatternType
			m.Principal, m.Host, m.Operation, m.PermissionType = acl.Principal, acl.Host, acl.Operation, acl.Permission
			results[i].MatchingACLs = append(results[i].MatchingACLs, m)
			c.logger.Info("ACL deleted", "acl", acl.String(), "by", c.sec.principal)
		}
	}
	return resp, nil
}
