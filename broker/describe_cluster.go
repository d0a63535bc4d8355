package broker

// DescribeCluster (key 60), v0-v1.
//
// Answers the cluster id, this node as the controller, and this node as the
// one broker (no rack). ClusterAuthorizedOperations is left at the
// protocol's "not requested" value unless asked for; there is no authorizer
// yet, so when asked for it holds every operation Kafka defines on the
// cluster resource, as Kafka answers without an authorizer. From v1 the
// request names the endpoint type it wants: this broker only answers as a
// broker (1); asking for controllers (2) is MISMATCHED_ENDPOINT_TYPE and
// any other type UNSUPPORTED_ENDPOINT_TYPE (both INVALID_REQUEST in v0,
// where the type cannot be given), with Kafka's messages.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeCluster.Int16(), 0, 1, handleDescribeCluster) }

// Endpoint types of DescribeCluster v1+ (KIP-919).
const (
	endpointBroker     int8 = 1
	endpointController int8 = 2
)

// clusterOperations is the bit set of the ACL operations Kafka defines on
// the cluster resource: CREATE, ALTER, DESCRIBE, CLUSTER_ACTION,
// DESCRIBE_CONFIGS, ALTER_CONFIGS and IDEMPOTENT_WRITE.
var clusterOperations = func() int32 {
	var bits int32
	for _, op := range []kmsg.ACLOperation{
		kmsg.ACLOperationCreate,
		kmsg.ACLOperationAlter,
		kmsg.ACLOperationDescribe,
		kmsg.ACLOperationClusterAction,
		kmsg.ACLOperationDescribeConfigs,
		kmsg.ACLOperationAlterConfigs,
		kmsg.ACLOperationIdempotentWrite,
	} {
		bits |= 1 << int32(op)
	}
	return bits
}()

func handleDescribeCluster(c *conn, req kmsg.Request, _ *pending) (kmsg.Response, error) {
	b := c.b
	r := req.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	if r.EndpointType != endpointBroker {
		var code *kerr.Error
		var msg string
		if r.EndpointType == endpointController {
			code = kerr.MismatchedEndpointType
			msg = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		} else {
			code = kerr.UnsupportedEndpointType
			msg = fmt.Sprintf("Unsupported endpoint type %d", r.EndpointType)
		}
		if r.Version == 0 {
			code = kerr.InvalidRequest
		}
		resp.ErrorCode = code.Code
		resp.ErrorMessage = &msg
		return resp, nil
	}
	resp.EndpointType = r.EndpointType
	resp.ClusterID = b.cluster
	resp.ControllerID = b.cfg.nodeID
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID = b.cfg.nodeID
	br.Host, br.Port = c.advertised()
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{br}
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterOperations
	}
	return resp, nil
}
