package broker

// ApiVersions (key 18), v0-v4.
//
// The answer lists exactly the API keys and version ranges registered by
// the handler files. A request with a version we do not know is answered in
// the v0 format with UNSUPPORTED_VERSION and the same list (KIP-511), so
// clients can downgrade; see dispatch in server.go.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var unsupportedVersionCode = kerr.UnsupportedVersion.Code

func init() { register(kmsg.ApiVersions.Int16(), 0, 4, handleApiVersions) }

func handleApiVersions(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	r := req.(*kmsg.ApiVersionsRequest)
	resp := apiVersionsResponse(r.Version, 0)
	if r.Version >= 3 && (r.ClientSoftwareName != "" || r.ClientSoftwareVersion != "") {
		c.softwareName, c.softwareVersion = r.ClientSoftwareName, r.ClientSoftwareVersion
	}
	return resp, nil
}

func apiVersionsResponse(version int16, errCode int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	resp.ErrorCode = errCode
	keys := make([]int16, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		h := handlers[k]
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k, h.min, h.max
		resp.ApiKeys = append(resp.ApiKeys, ak)
	}
	return resp
}
