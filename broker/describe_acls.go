package broker

// DescribeAcls (key 29), v0-v3: the ACLs a filter selects, grouped by
// resource. Needs DESCRIBE on the cluster (authorize_apis.go).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeACLs.Int16(), 0, 3, handleDescribeAcls) }

func handleDescribeAcls(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeACLsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	if c.b.authz == nil {
		resp.ErrorCode, resp.ErrorMessage = securityDisabled()
		return resp, nil
	}
	f := aclFilter(r.Version, r.ResourceType, r.ResourceName, r.ResourcePatternType, r.Principal, r.Host, r.Operation, r.PermissionType)
	for _, acl := range c.b.authz.Describe(f) { // sorted by resource
		n := len(resp.Resources)
		if n == 0 || resp.Resources[n-1].ResourceType != acl.ResourceType || resp.Resources[n-1].ResourceName != acl.ResourceName || resp.Resources[n-1].ResourcePatternType != acl.PatternType {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName, res.ResourcePatternType = acl.ResourceType, acl.ResourceName, acl.PatternType
			resp.Resources = append(resp.Resources, res)
			n++
		}
		a := kmsg.NewDescribeACLsResponseResourceACL()
		a.Principal, a.Host, a.Operation, a.PermissionType = acl.Principal, acl.Host, acl.Operation, acl.Permission
		resp.Resources[n-1].ACLs = append(resp.Resources[n-1].ACLs, a)
	}
	return resp, nil
}
