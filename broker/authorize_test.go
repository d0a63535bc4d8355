package broker_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/eddy-streaming/eddy/internal/testbroker"
)

// authzEnv names one case's resources (fresh for each case) and its
// principal, who starts with no ACL at all.
type authzEnv struct {
	T, G, X string   // topic (created), group (with a committed offset), transactional id (initialized)
	TID     [16]byte // the topic's id
	New     string   // a topic that does not exist
	User    string
}

// authzStep grants ACLs to the case's principal, sends the request again,
// and expects every non-zero error code of the answer to be want, or, for
// want 0, none of them to be an authorization error.
type authzStep struct {
	grant func(e *authzEnv) *kadm.ACLBuilder // nil: no new grant
	want  int16
}

type authzCase struct {
	name  string
	key   kmsg.Key
	max   int16 // pin the client's version of the API (0: the highest both know)
	req   func(e *authzEnv) kmsg.Request
	codes func(e *authzEnv, resp kmsg.Response) []int16 // default: every ErrorCode in the answer
	steps []authzStep
}

var (
	topicDenied   = kerr.TopicAuthorizationFailed.Code
	groupDenied   = kerr.GroupAuthorizationFailed.Code
	clusterDenied = kerr.ClusterAuthorizationFailed.Code
	txnDenied     = kerr.TransactionalIDAuthorizationFailed.Code
	allowed       = int16(0)
)

func allowOn(res func(e *authzEnv, b *kadm.ACLBuilder) *kadm.ACLBuilder, ops ...kadm.ACLOperation) func(e *authzEnv) *kadm.ACLBuilder {
	return func(e *authzEnv) *kadm.ACLBuilder {
		return res(e, kadm.NewACLs().Allow("User:"+e.User).Operations(ops...))
	}
}

func onTopic(e *authzEnv, b *kadm.ACLBuilder) *kadm.ACLBuilder   { return b.Topics(e.T) }
func onNew(e *authzEnv, b *kadm.ACLBuilder) *kadm.ACLBuilder     { return b.Topics(e.New) }
func onGroup(e *authzEnv, b *kadm.ACLBuilder) *kadm.ACLBuilder   { return b.Groups(e.G) }
func onTxn(e *authzEnv, b *kadm.ACLBuilder) *kadm.ACLBuilder     { return b.TransactionalIDs(e.X) }
func onCluster(e *authzEnv, b *kadm.ACLBuilder) *kadm.ACLBuilder { return b.Clusters() }

// hidden reports a listing as TOPIC_AUTHORIZATION_FAILED while it leaves
// out the resource, as 0 once it shows it.
func hidden(shown bool) []int16 {
	if shown {
		return nil
	}
	return []int16{topicDenied}
}

func authzCases() []authzCase {
	simple := func(name string, key kmsg.Key, req func(e *authzEnv) kmsg.Request, want int16, grant func(e *authzEnv) *kadm.ACLBuilder) authzCase {
		return authzCase{name: name, key: key, req: req, steps: []authzStep{{nil, want}, {grant, allowed}}}
	}
	return []authzCase{
		simple("Produce", kmsg.Produce, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Acks, r.TimeoutMillis = 1, 5000
			t := kmsg.NewProduceRequestTopic()
			t.Topic = e.T
			p := kmsg.NewProduceRequestTopicPartition()
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpWrite)),
		{name: "Produce/transactional", key: kmsg.Produce, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Acks, r.TimeoutMillis, r.TransactionID = -1, 5000, &e.X
			t := kmsg.NewProduceRequestTopic()
			t.Topic = e.T
			t.Partitions = append(t.Partitions, kmsg.NewProduceRequestTopicPartition())
			r.Topics = append(r.Topics, t)
			return r
		}, steps: []authzStep{{nil, txnDenied}, {allowOn(onTxn, kadm.OpWrite), topicDenied}, {allowOn(onTopic, kadm.OpWrite), allowed}}},
		simple("Fetch", kmsg.Fetch, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrFetchRequest()
			r.ReplicaID, r.MaxBytes = -1, 1<<20
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = e.T, e.TID
			p := kmsg.NewFetchRequestTopicPartition()
			p.PartitionMaxBytes = 1 << 20
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpRead)),
		simple("ListOffsets", kmsg.ListOffsets, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrListOffsetsRequest()
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = e.T
			p := kmsg.NewListOffsetsRequestTopicPartition()
			p.Timestamp = -1
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpDescribe)),
		simple("Metadata", kmsg.Metadata, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = &e.T
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpDescribe)),
		{name: "Metadata/all topics", key: kmsg.Metadata, req: func(e *authzEnv) kmsg.Request {
			return kmsg.NewPtrMetadataRequest()
		}, codes: func(e *authzEnv, resp kmsg.Response) []int16 {
			return hidden(slices.ContainsFunc(resp.(*kmsg.MetadataResponse).Topics, func(t kmsg.MetadataResponseTopic) bool { return *t.Topic == e.T }))
		}, steps: []authzStep{{nil, topicDenied}, {allowOn(onTopic, kadm.OpDescribe), allowed}}},
		{name: "Metadata/auto-create", key: kmsg.Metadata, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			r.AllowAutoTopicCreation = true
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = &e.New
			r.Topics = append(r.Topics, t)
			return r
		}, steps: []authzStep{{nil, topicDenied}, {allowOn(onNew, kadm.OpDescribe), topicDenied}, {allowOn(onNew, kadm.OpCreate), allowed}}},
		{name: "OffsetCommit", key: kmsg.OffsetCommit, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrOffsetCommitRequest()
			r.Group, r.Generation = e.G, -1
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic = e.T
			p := kmsg.NewOffsetCommitRequestTopicPartition()
			p.Offset = 1
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}, steps: []authzStep{{nil, groupDenied}, {allowOn(onGroup, kadm.OpRead), topicDenied}, {allowOn(onTopic, kadm.OpRead), allowed}}},
		{name: "OffsetFetch", key: kmsg.OffsetFetch, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrOffsetFetchRequest()
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = e.G
			t := kmsg.NewOffsetFetchRequestGroupTopic()
			t.Topic, t.Partitions = e.T, []int32{0}
			g.Topics = append(g.Topics, t)
			r.Groups = append(r.Groups, g)
			return r
		}, steps: []authzStep{{nil, groupDenied}, {allowOn(onGroup, kadm.OpDescribe), topicDenied}, {allowOn(onTopic, kadm.OpDescribe), allowed}}},
		{name: "OffsetFetch/v7", key: kmsg.OffsetFetch, max: 7, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrOffsetFetchRequest()
			r.Group = e.G
			t := kmsg.NewOffsetFetchRequestTopic()
			t.Topic, t.Partitions = e.T, []int32{0}
			r.Topics = append(r.Topics, t)
			return r
		}, steps: []authzStep{{nil, groupDenied}, {allowOn(onGroup, kadm.OpDescribe), topicDenied}, {allowOn(onTopic, kadm.OpDescribe), allowed}}},
		{name: "OffsetFetch/all topics", key: kmsg.OffsetFetch, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrOffsetFetchRequest()
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = e.G
			r.Groups = append(r.Groups, g)
			return r
		}, codes: func(e *authzEnv, resp kmsg.Response) []int16 {
			for _, g := range resp.(*kmsg.OffsetFetchResponse).Groups {
				if g.ErrorCode != 0 {
					return []int16{g.ErrorCode}
				}
				return hidden(slices.ContainsFunc(g.Topics, func(t kmsg.OffsetFetchResponseGroupTopic) bool { return t.Topic == e.T }))
			}
			return nil
		}, steps: []authzStep{{nil, groupDenied}, {allowOn(onGroup, kadm.OpDescribe), topicDenied}, {allowOn(onTopic, kadm.OpDescribe), allowed}}},
		simple("FindCoordinator/group", kmsg.FindCoordinator, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrFindCoordinatorRequest()
			r.CoordinatorKey, r.CoordinatorKeys = e.G, []string{e.G}
			return r
		}, groupDenied, allowOn(onGroup, kadm.OpDescribe)),
		{name: "FindCoordinator/v3 transaction", key: kmsg.FindCoordinator, max: 3, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrFindCoordinatorRequest()
			r.CoordinatorKey, r.CoordinatorType = e.X, 1
			return r
		}, steps: []authzStep{{nil, txnDenied}, {allowOn(onTxn, kadm.OpDescribe), allowed}}},
		simple("JoinGroup", kmsg.JoinGroup, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrJoinGroupRequest()
			r.Group, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis, r.ProtocolType = e.G, 10000, 10000, "consumer"
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name = "range"
			r.Protocols = append(r.Protocols, p)
			return r
		}, groupDenied, allowOn(onGroup, kadm.OpRead)),
		simple("SyncGroup", kmsg.SyncGroup, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrSyncGroupRequest()
			r.Group, r.MemberID, r.Generation = e.G, "m", 1
			return r
		}, groupDenied, allowOn(onGroup, kadm.OpRead)),
		simple("Heartbeat", kmsg.Heartbeat, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrHeartbeatRequest()
			r.Group, r.MemberID, r.Generation = e.G, "m", 1
			return r
		}, groupDenied, allowOn(onGroup, kadm.OpRead)),
		simple("LeaveGroup", kmsg.LeaveGroup, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrLeaveGroupRequest()
			r.Group, r.MemberID = e.G, "m"
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = "m"
			r.Members = append(r.Members, m)
			return r
		}, groupDenied, allowOn(onGroup, kadm.OpRead)),
		simple("DescribeGroups", kmsg.DescribeGroups, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDescribeGroupsRequest()
			r.Groups = []string{e.G}
			return r
		}, groupDenied, allowOn(onGroup, kadm.OpDescribe)),
		{name: "ListGroups", key: kmsg.ListGroups, req: func(e *authzEnv) kmsg.Request {
			return kmsg.NewPtrListGroupsRequest()
		}, codes: func(e *authzEnv, resp kmsg.Response) []int16 {
			return hidden(slices.ContainsFunc(resp.(*kmsg.ListGroupsResponse).Groups, func(g kmsg.ListGroupsResponseGroup) bool { return g.Group == e.G }))
		}, steps: []authzStep{{nil, topicDenied}, {allowOn(onGroup, kadm.OpDescribe), allowed}}},
		simple("DeleteGroups", kmsg.DeleteGroups, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDeleteGroupsRequest()
			r.Groups = []string{e.G}
			return r
		}, groupDenied, allowOn(onGroup, kadm.OpDelete)),
		{name: "OffsetDelete", key: kmsg.OffsetDelete, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrOffsetDeleteRequest()
			r.Group = e.G
			t := kmsg.NewOffsetDeleteRequestTopic()
			t.Topic = e.T
			t.Partitions = append(t.Partitions, kmsg.NewOffsetDeleteRequestTopicPartition())
			r.Topics = append(r.Topics, t)
			return r
		}, steps: []authzStep{{nil, groupDenied}, {allowOn(onGroup, kadm.OpDelete), topicDenied}, {allowOn(onTopic, kadm.OpRead), allowed}}},
		simple("CreateTopics", kmsg.CreateTopics, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrCreateTopicsRequest()
			r.TimeoutMillis, r.ValidateOnly = 5000, true
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic, t.NumPartitions, t.ReplicationFactor = e.New, 1, 1
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onNew, kadm.OpCreate)),
		simple("CreateTopics/cluster", kmsg.CreateTopics, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrCreateTopicsRequest()
			r.TimeoutMillis, r.ValidateOnly = 5000, true
			t := kmsg.NewCreateTopicsRequestTopic()
			t.Topic, t.NumPartitions, t.ReplicationFactor = e.New, 1, 1
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onCluster, kadm.OpCreate)),
		simple("DeleteTopics", kmsg.DeleteTopics, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDeleteTopicsRequest()
			r.TimeoutMillis, r.TopicNames = 5000, []string{e.T}
			t := kmsg.NewDeleteTopicsRequestTopic()
			t.Topic = &e.T
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpDelete)),
		simple("DeleteRecords", kmsg.DeleteRecords, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDeleteRecordsRequest()
			r.TimeoutMillis = 5000
			t := kmsg.NewDeleteRecordsRequestTopic()
			t.Topic = e.T
			t.Partitions = append(t.Partitions, kmsg.NewDeleteRecordsRequestTopicPartition())
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpDelete)),
		simple("InitProducerId/transactional", kmsg.InitProducerID, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrInitProducerIDRequest()
			r.TransactionalID, r.TransactionTimeoutMillis = &e.X, 10000
			return r
		}, txnDenied, allowOn(onTxn, kadm.OpWrite)),
		simple("InitProducerId/idempotent", kmsg.InitProducerID, func(e *authzEnv) kmsg.Request {
			return kmsg.NewPtrInitProducerIDRequest()
		}, clusterDenied, allowOn(onTopic, kadm.OpWrite)),
		simple("InitProducerId/idempotent write", kmsg.InitProducerID, func(e *authzEnv) kmsg.Request {
			return kmsg.NewPtrInitProducerIDRequest()
		}, clusterDenied, allowOn(onCluster, kadm.OpIdempotentWrite)),
		simple("OffsetForLeaderEpoch", kmsg.OffsetForLeaderEpoch, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrOffsetForLeaderEpochRequest()
			r.ReplicaID = -1
			t := kmsg.NewOffsetForLeaderEpochRequestTopic()
			t.Topic = e.T
			p := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpDescribe)),
		{name: "AddPartitionsToTxn/v3", key: kmsg.AddPartitionsToTxn, max: 3, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrAddPartitionsToTxnRequest()
			r.TransactionalID, r.ProducerID = e.X, 1
			t := kmsg.NewAddPartitionsToTxnRequestTopic()
			t.Topic, t.Partitions = e.T, []int32{0}
			r.Topics = append(r.Topics, t)
			return r
		}, steps: []authzStep{{nil, txnDenied}, {allowOn(onTxn, kadm.OpWrite), topicDenied}, {allowOn(onTopic, kadm.OpWrite), allowed}}},
		simple("AddPartitionsToTxn/v4 (brokers)", kmsg.AddPartitionsToTxn, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrAddPartitionsToTxnRequest()
			tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
			tx.TransactionalID, tx.ProducerID, tx.VerifyOnly = e.X, 1, true
			r.Transactions = append(r.Transactions, tx)
			return r
		}, clusterDenied, allowOn(onCluster, kadm.OpClusterAction)),
		{name: "AddOffsetsToTxn", key: kmsg.AddOffsetsToTxn, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrAddOffsetsToTxnRequest()
			r.TransactionalID, r.ProducerID, r.Group = e.X, 1, e.G
			return r
		}, steps: []authzStep{{nil, txnDenied}, {allowOn(onTxn, kadm.OpWrite), groupDenied}, {allowOn(onGroup, kadm.OpRead), allowed}}},
		simple("EndTxn", kmsg.EndTxn, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrEndTxnRequest()
			r.TransactionalID, r.ProducerID = e.X, 1
			return r
		}, txnDenied, allowOn(onTxn, kadm.OpWrite)),
		{name: "TxnOffsetCommit", key: kmsg.TxnOffsetCommit, req: func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrTxnOffsetCommitRequest()
			r.TransactionalID, r.Group, r.ProducerID, r.Generation = e.X, e.G, 1, -1
			t := kmsg.NewTxnOffsetCommitRequestTopic()
			t.Topic = e.T
			p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			p.Offset = 1
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}, steps: []authzStep{{nil, txnDenied}, {allowOn(onTxn, kadm.OpWrite), groupDenied}, {allowOn(onGroup, kadm.OpRead), topicDenied}, {allowOn(onTopic, kadm.OpRead), allowed}}},
		simple("DescribeAcls", kmsg.DescribeACLs, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDescribeACLsRequest()
			r.ResourceType, r.ResourcePatternType, r.Operation, r.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return r
		}, clusterDenied, allowOn(onCluster, kadm.OpDescribe)),
		simple("CreateAcls", kmsg.CreateACLs, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrCreateACLsRequest()
			c := kmsg.NewCreateACLsRequestCreation()
			c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, e.New, kmsg.ACLResourcePatternTypeLiteral
			c.Principal, c.Host, c.Operation, c.PermissionType = "User:"+e.User, "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			r.Creations = append(r.Creations, c)
			return r
		}, clusterDenied, allowOn(onCluster, kadm.OpAlter)),
		simple("DeleteAcls", kmsg.DeleteACLs, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDeleteACLsRequest()
			f := kmsg.NewDeleteACLsRequestFilter()
			f.ResourceType, f.ResourceName, f.ResourcePatternType = kmsg.ACLResourceTypeTopic, &e.New, kmsg.ACLResourcePatternTypeLiteral
			f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			r.Filters = append(r.Filters, f)
			return r
		}, clusterDenied, allowOn(onCluster, kadm.OpAlter)),
		simple("DescribeConfigs/topic", kmsg.DescribeConfigs, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			res := kmsg.NewDescribeConfigsRequestResource()
			res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, e.T
			r.Resources = append(r.Resources, res)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpDescribeConfigs)),
		simple("DescribeConfigs/broker", kmsg.DescribeConfigs, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDescribeConfigsRequest()
			res := kmsg.NewDescribeConfigsRequestResource()
			res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, "0"
			r.Resources = append(r.Resources, res)
			return r
		}, clusterDenied, allowOn(onCluster, kadm.OpDescribeConfigs)),
		simple("AlterConfigs", kmsg.AlterConfigs, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrAlterConfigsRequest()
			r.ValidateOnly = true
			res := kmsg.NewAlterConfigsRequestResource()
			res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, e.T
			r.Resources = append(r.Resources, res)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpAlterConfigs)),
		simple("IncrementalAlterConfigs/broker", kmsg.IncrementalAlterConfigs, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrIncrementalAlterConfigsRequest()
			r.ValidateOnly = true
			res := kmsg.NewIncrementalAlterConfigsRequestResource()
			res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBroker, "0"
			r.Resources = append(r.Resources, res)
			return r
		}, clusterDenied, allowOn(onCluster, kadm.OpAlterConfigs)),
		simple("CreatePartitions", kmsg.CreatePartitions, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrCreatePartitionsRequest()
			r.ValidateOnly, r.TimeoutMillis = true, 5000
			t := kmsg.NewCreatePartitionsRequestTopic()
			t.Topic, t.Count = e.T, 2
			r.Topics = append(r.Topics, t)
			return r
		}, topicDenied, allowOn(onTopic, kadm.OpAlter)),
		simple("DescribeUserScramCredentials", kmsg.DescribeUserSCRAMCredentials, func(e *authzEnv) kmsg.Request {
			return kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
		}, clusterDenied, allowOn(onCluster, kadm.OpDescribe)),
		simple("AlterUserScramCredentials", kmsg.AlterUserSCRAMCredentials, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
			d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
			d.Name, d.Mechanism = "nobody", 2
			r.Deletions = append(r.Deletions, d)
			return r
		}, clusterDenied, allowOn(onCluster, kadm.OpAlter)),
		simple("DescribeCluster", kmsg.DescribeCluster, func(e *authzEnv) kmsg.Request {
			return kmsg.NewPtrDescribeClusterRequest()
		}, clusterDenied, allowOn(onCluster, kadm.OpDescribe)),
		simple("DescribeTransactions", kmsg.DescribeTransactions, func(e *authzEnv) kmsg.Request {
			r := kmsg.NewPtrDescribeTransactionsRequest()
			r.TransactionalIDs = []string{e.X}
			return r
		}, txnDenied, allowOn(onTxn, kadm.OpDescribe)),
		{name: "ListTransactions", key: kmsg.ListTransactions, req: func(e *authzEnv) kmsg.Request {
			return kmsg.NewPtrListTransactionsRequest()
		}, codes: func(e *authzEnv, resp kmsg.Response) []int16 {
			return hidden(slices.ContainsFunc(resp.(*kmsg.ListTransactionsResponse).TransactionStates, func(s kmsg.ListTransactionsResponseTransactionState) bool {
				return s.TransactionalID == e.X
			}))
		}, steps: []authzStep{{nil, topicDenied}, {allowOn(onTxn, kadm.OpDescribe), allowed}}},
	}
}

// publicAPIs need no authorization: they are how a client gets to
// authenticate.
var publicAPIs = []kmsg.Key{kmsg.ApiVersions, kmsg.SASLHandshake, kmsg.SASLAuthenticate}

// TestAuthorizationMatrix sends, for every API the broker advertises,
// requests as a principal without ACLs and checks the API's authorization
// error (or that the listing hides the resource); then grants the ACLs of
// Kafka's authorization table one at a time, checking each moves the
// answer to the next error and the last to success. An advertised API
// without a case here fails the test, so a new API cannot skip the
// authorizer unnoticed.
func TestAuthorizationMatrix(t *testing.T) {
	s := testbroker.StartSecure(t)
	ctx := testCtx(t)
	adm := adminClient(t, s)
	admin := secureClient(t, s, scram512(s.AdminUser, s.AdminPass))

	versions, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cases := authzCases()
	covered := map[kmsg.Key]bool{}
	for _, c := range cases {
		covered[c.key] = true
	}
	for _, bv := range versions {
		if bv.Err != nil {
			t.Fatal(bv.Err)
		}
		bv.EachKeySorted(func(key, _, _ int16) {
			k := kmsg.Key(key)
			if !covered[k] && !slices.Contains(publicAPIs, k) {
				t.Errorf("%s is advertised but has no authorization case: add one to authzCases", kmsg.NameForKey(key))
			}
		})
	}

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &authzEnv{T: fmt.Sprintf("t%d", i), G: fmt.Sprintf("g%d", i), X: fmt.Sprintf("x%d", i), New: fmt.Sprintf("new%d", i), User: fmt.Sprintf("u%d", i)}
			setupAuthzEnv(t, ctx, adm, admin, e)
			opts := []kgo.Opt{}
			if c.max > 0 {
				v := kversion.Stable()
				v.SetMaxKeyVersion(int16(c.key), c.max)
				opts = append(opts, kgo.MaxVersions(v))
			}
			cl := secureClient(t, s, scram512(e.User, e.User+"-secret"), opts...)
			for n, step := range c.steps {
				if step.grant != nil {
					grant(t, adm, step.grant(e))
				}
				resp, err := cl.SeedBrokers()[0].Request(ctx, c.req(e))
				if err != nil {
					t.Fatalf("step %d: %v", n, err)
				}
				codes := c.codes
				if codes == nil {
					codes = func(_ *authzEnv, r kmsg.Response) []int16 { return errorCodes(r) }
				}
				got := codes(e, resp)
				if step.want != allowed {
					if len(got) == 0 || slices.ContainsFunc(got, func(c int16) bool { return c != step.want }) {
						t.Fatalf("step %d: error codes %v, want all %v", n, names(got), kerr.ErrorForCode(step.want))
					}
					continue
				}
				if slices.ContainsFunc(got, isAuthzCode) {
					t.Fatalf("step %d: error codes %v after the grant, want no authorization error", n, names(got))
				}
			}
		})
	}
}

// setupAuthzEnv creates the case's user, topic (with a record), group
// (with a committed offset) and transactional id, as the super user.
func setupAuthzEnv(t *testing.T, ctx context.Context, adm *kadm.Client, admin *kgo.Client, e *authzEnv) {
	t.Helper()
	createUser(t, adm, e.User, e.User+"-secret")
	res, err := adm.CreateTopic(ctx, 1, 1, nil, e.T)
	if err != nil || res.Err != nil {
		t.Fatalf("creating %s: %v %v", e.T, err, res.Err)
	}
	e.TID = res.ID
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: e.T, Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: e.T, Partition: 0, At: 1, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, e.G, offs); err != nil {
		t.Fatal(err)
	}
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.TransactionalID, ipid.TransactionTimeoutMillis = &e.X, 60000
	resp, err := ipid.RequestWith(ctx, admin)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId %s: %v %v", e.X, err, kerr.ErrorForCode(resp.ErrorCode))
	}
}

func isAuthzCode(c int16) bool {
	return c == topicDenied || c == groupDenied || c == clusterDenied || c == txnDenied
}

func names(codes []int16) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = fmt.Sprint(kerr.ErrorForCode(c))
	}
	return out
}

// errorCodes collects every non-zero ErrorCode field in a response.
func errorCodes(resp kmsg.Response) []int16 {
	var out []int16
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 {
					if c := int16(v.Field(i).Int()); c != 0 {
						out = append(out, c)
					}
					continue
				}
				walk(v.Field(i))
			}
		}
	}
	walk(reflect.ValueOf(resp))
	return out
}
