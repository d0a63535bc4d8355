package broker

// The authorization rule of every API, after Kafka's table
// (KafkaApis; "Authorization" in the Kafka docs). Operations:
//
//	Produce                  WRITE transactional id (if any), WRITE topic
//	Fetch                    READ topic
//	ListOffsets              DESCRIBE topic
//	Metadata                 DESCRIBE topic (others hidden or refused);
//	                         CREATE cluster or topic to auto-create
//	OffsetCommit             READ group, READ topic
//	OffsetFetch              DESCRIBE group, DESCRIBE topic
//	FindCoordinator          DESCRIBE group / transactional id
//	JoinGroup, SyncGroup,
//	Heartbeat, LeaveGroup    READ group
//	DescribeGroups           DESCRIBE group
//	ListGroups               DESCRIBE cluster, or only groups it may DESCRIBE
//	DeleteGroups             DELETE group
//	OffsetDelete             DELETE group, READ topic
//	CreateTopics             CREATE cluster or topic (DESCRIBE_CONFIGS topic
//	                         to see the configs)
//	DeleteTopics             DELETE topic
//	DeleteRecords            DELETE topic
//	CreatePartitions         ALTER topic
//	OffsetForLeaderEpoch     DESCRIBE topic
//	DescribeConfigs          DESCRIBE_CONFIGS topic / cluster (broker)
//	AlterConfigs,
//	IncrementalAlterConfigs  ALTER_CONFIGS topic / cluster (broker)
//	DescribeCluster          DESCRIBE cluster
//	InitProducerId           WRITE transactional id; without one,
//	                         IDEMPOTENT_WRITE cluster or WRITE on some topic
//	AddPartitionsToTxn       WRITE transactional id, WRITE topic
//	                         (v4+, broker to broker: CLUSTER_ACTION)
//	AddOffsetsToTxn          WRITE transactional id, READ group
//	EndTxn                   WRITE transactional id
//	TxnOffsetCommit          WRITE transactional id, READ group, READ topic
//	DescribeTransactions     DESCRIBE transactional id (topics it may not
//	                         DESCRIBE are left out)
//	ListTransactions         only ids it may DESCRIBE
//	DescribeAcls             DESCRIBE cluster
//	CreateAcls, DeleteAcls   ALTER cluster
//	DescribeUserScramCredentials  DESCRIBE cluster
//	AlterUserScramCredentials     ALTER cluster
//	ApiVersions, SaslHandshake, SaslAuthenticate: none

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var (
	topicAuthFailed   = kerr.TopicAuthorizationFailed.Code
	groupAuthFailed   = kerr.GroupAuthorizationFailed.Code
	clusterAuthFailed = kerr.ClusterAuthorizationFailed.Code
	txnAuthFailed     = kerr.TransactionalIDAuthorizationFailed.Code
)

const (
	opRead            = kmsg.ACLOperationRead
	opWrite           = kmsg.ACLOperationWrite
	opCreate          = kmsg.ACLOperationCreate
	opDelete          = kmsg.ACLOperationDelete
	opAlter           = kmsg.ACLOperationAlter
	opDescribe        = kmsg.ACLOperationDescribe
	opClusterAction   = kmsg.ACLOperationClusterAction
	opDescribeConfigs = kmsg.ACLOperationDescribeConfigs
	opAlterConfigs    = kmsg.ACLOperationAlterConfigs
	opIdempotentWrite = kmsg.ACLOperationIdempotentWrite
)

func init() {
	r := func(k kmsg.Key, rule authzRule) { authorizeAPIs[k] = rule }
	r(kmsg.Produce, authorizeProduce)
	r(kmsg.Fetch, authorizeFetch)
	r(kmsg.ListOffsets, authorizeListOffsets)
	r(kmsg.Metadata, authorizeMetadata)
	r(kmsg.OffsetCommit, authorizeOffsetCommit)
	r(kmsg.OffsetFetch, authorizeOffsetFetch)
	r(kmsg.FindCoordinator, authorizeFindCoordinator)
	r(kmsg.JoinGroup, authorizeJoinGroup)
	r(kmsg.SyncGroup, authorizeSyncGroup)
	r(kmsg.Heartbeat, authorizeHeartbeat)
	r(kmsg.LeaveGroup, authorizeLeaveGroup)
	r(kmsg.DescribeGroups, authorizeDescribeGroups)
	r(kmsg.ListGroups, authorizeListGroups)
	r(kmsg.DeleteGroups, authorizeDeleteGroups)
	r(kmsg.OffsetDelete, authorizeOffsetDelete)
	r(kmsg.CreateTopics, authorizeCreateTopics)
	r(kmsg.DeleteTopics, authorizeDeleteTopics)
	r(kmsg.DeleteRecords, authorizeDeleteRecords)
	r(kmsg.CreatePartitions, authorizeCreatePartitions)
	r(kmsg.OffsetForLeaderEpoch, authorizeOffsetForLeaderEpoch)
	r(kmsg.DescribeConfigs, authorizeDescribeConfigs)
	r(kmsg.AlterConfigs, authorizeAlterConfigs)
	r(kmsg.IncrementalAlterConfigs, authorizeIncrementalAlterConfigs)
	r(kmsg.DescribeCluster, authorizeDescribeCluster)
	r(kmsg.InitProducerID, authorizeInitProducerID)
	r(kmsg.AddPartitionsToTxn, authorizeAddPartitionsToTxn)
	r(kmsg.AddOffsetsToTxn, authorizeAddOffsetsToTxn)
	r(kmsg.EndTxn, authorizeEndTxn)
	r(kmsg.TxnOffsetCommit, authorizeTxnOffsetCommit)
	r(kmsg.DescribeTransactions, authorizeDescribeTransactions)
	r(kmsg.ListTransactions, authorizeListTransactions)
	r(kmsg.DescribeACLs, clusterRule(opDescribe))
	r(kmsg.CreateACLs, clusterRule(opAlter))
	r(kmsg.DeleteACLs, clusterRule(opAlter))
	r(kmsg.DescribeUserSCRAMCredentials, clusterRule(opDescribe))
	r(kmsg.AlterUserSCRAMCredentials, clusterRule(opAlter))
}

func authorizeProduce(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.ProduceRequest)
	all := func(ts []kmsg.ProduceRequestTopic, code int16) (kmsg.Response, func(kmsg.Response), error) {
		if r.Acks == 0 {
			return nil, nil, errNoResponse
		}
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		resp.Topics = produceErrors(ts, code)
		return resp, nil, nil
	}
	if r.TransactionID != nil && !z.txnID(opWrite, *r.TransactionID) {
		return all(r.Topics, txnAuthFailed)
	}
	refused := split(&r.Topics, func(t *kmsg.ProduceRequestTopic) bool { return z.topic(opWrite, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	if len(r.Topics) == 0 {
		return all(refused, topicAuthFailed) // nothing left to write (and acks=0 gets nothing)
	}
	return nil, func(resp kmsg.Response) {
		pr := resp.(*kmsg.ProduceResponse)
		pr.Topics = append(pr.Topics, produceErrors(refused, topicAuthFailed)...)
	}, nil
}

func produceErrors(ts []kmsg.ProduceRequestTopic, code int16) []kmsg.ProduceResponseTopic {
	out := make([]kmsg.ProduceResponseTopic, 0, len(ts))
	for _, t := range ts {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

func authorizeFetch(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.FetchRequest)
	if r.ReplicaID >= 0 {
		if !z.cluster(opClusterAction) {
			resp := r.ResponseKind().(*kmsg.FetchResponse)
			resp.ErrorCode = clusterAuthFailed
			return resp, nil, nil
		}
		return nil, nil, nil
	}
	refused := split(&r.Topics, func(t *kmsg.FetchRequestTopic) bool {
		name := z.topicName(&t.Topic, t.TopicID)
		return name == "" || z.topic(opRead, name)
	})
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		fr := resp.(*kmsg.FetchResponse)
		for _, t := range refused {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, topicAuthFailed
				rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			fr.Topics = append(fr.Topics, rt)
		}
	}, nil
}

func authorizeListOffsets(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.ListOffsetsRequest)
	refused := split(&r.Topics, func(t *kmsg.ListOffsetsRequestTopic) bool { return z.topic(opDescribe, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListOffsetsResponse)
		for _, t := range refused {
			rt := kmsg.NewListOffsetsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewListOffsetsResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, topicAuthFailed
				rp.Offset, rp.Timestamp = -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			lr.Topics = append(lr.Topics, rt)
		}
	}, nil
}

func authorizeMetadata(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.MetadataRequest)
	hide := func(resp kmsg.Response) {
		mr := resp.(*kmsg.MetadataResponse)
		mr.Topics = filter(mr.Topics, func(t *kmsg.MetadataResponseTopic) bool {
			return t.ErrorCode == topicAuthFailed || t.Topic == nil || z.topic(opDescribe, *t.Topic)
		})
	}
	if r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0) {
		return nil, hide, nil
	}
	b := z.c.b
	autoCreate := (r.Version < 4 || r.AllowAutoTopicCreation) && b.settings.bool("auto.create.topics.enable")
	mayCreate := z.cluster(opCreate)
	refused := split(&r.Topics, func(t *kmsg.MetadataRequestTopic) bool {
		name := z.topicName(t.Topic, t.TopicID)
		if name == "" {
			return true // unknown id: the handler says so
		}
		if !z.topic(opDescribe, name) {
			return false
		}
		return !autoCreate || mayCreate || b.topic(name) != nil || z.topic(opCreate, name)
	})
	if len(refused) == 0 {
		return nil, hide, nil
	}
	none := len(r.Topics) == 0
	if none {
		r.Topics = []kmsg.MetadataRequestTopic{} // not nil: that would mean all topics
	}
	return nil, func(resp kmsg.Response) {
		mr := resp.(*kmsg.MetadataResponse)
		if none { // v0 reads an empty list as all topics
			mr.Topics = nil
		}
		for _, t := range refused {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.TopicID, mt.ErrorCode = t.Topic, t.TopicID, topicAuthFailed
			mr.Topics = append(mr.Topics, mt)
		}
	}, nil
}

func authorizeOffsetCommit(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.OffsetCommitRequest)
	errs := func(ts []kmsg.OffsetCommitRequestTopic, code int16) []kmsg.OffsetCommitResponseTopic {
		var out []kmsg.OffsetCommitResponseTopic
		for _, t := range ts {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			out = append(out, rt)
		}
		return out
	}
	if !z.group(opRead, r.Group) {
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Topics = errs(r.Topics, groupAuthFailed)
		return resp, nil, nil
	}
	refused := split(&r.Topics, func(t *kmsg.OffsetCommitRequestTopic) bool { return z.topic(opRead, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetCommitResponse)
		or.Topics = append(or.Topics, errs(refused, topicAuthFailed)...)
	}, nil
}

func authorizeOffsetFetch(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.OffsetFetchRequest)
	describable := func(topic string) bool { return z.topic(opDescribe, topic) }
	if r.Version < 8 {
		if !z.group(opDescribe, r.Group) {
			resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
			resp.ErrorCode = groupAuthFailed
			for _, t := range r.Topics { // v0-v1 have no top-level error code
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.ErrorCode, rp.Offset = p, groupAuthFailed, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp, nil, nil
		}
		if r.Topics == nil {
			return nil, func(resp kmsg.Response) {
				or := resp.(*kmsg.OffsetFetchResponse)
				or.Topics = filter(or.Topics, func(t *kmsg.OffsetFetchResponseTopic) bool { return describable(t.Topic) })
			}, nil
		}
		refused := split(&r.Topics, func(t *kmsg.OffsetFetchRequestTopic) bool { return describable(t.Topic) })
		if len(refused) == 0 {
			return nil, nil, nil
		}
		return nil, func(resp kmsg.Response) {
			or := resp.(*kmsg.OffsetFetchResponse)
			for _, t := range refused {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.ErrorCode, rp.Offset = p, topicAuthFailed, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				or.Topics = append(or.Topics, rt)
			}
		}, nil
	}
	refusedGroups := split(&r.Groups, func(g *kmsg.OffsetFetchRequestGroup) bool { return z.group(opDescribe, g.Group) })
	refusedTopics := map[string][]kmsg.OffsetFetchRequestGroupTopic{}
	allTopics := map[string]bool{}
	for i := range r.Groups {
		g := &r.Groups[i]
		if g.Topics == nil {
			allTopics[g.Group] = true
			continue
		}
		if ref := split(&g.Topics, func(t *kmsg.OffsetFetchRequestGroupTopic) bool { return describable(t.Topic) }); len(ref) > 0 {
			refusedTopics[g.Group] = ref
		}
	}
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetFetchResponse)
		for i := range or.Groups {
			g := &or.Groups[i]
			if allTopics[g.Group] {
				g.Topics = filter(g.Topics, func(t *kmsg.OffsetFetchResponseGroupTopic) bool { return describable(t.Topic) })
			}
			for _, t := range refusedTopics[g.Group] {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.ErrorCode, rp.Offset = p, topicAuthFailed, -1
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
		}
		for _, g := range refusedGroups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, groupAuthFailed
			or.Groups = append(or.Groups, rg)
		}
	}, nil
}

func authorizeFindCoordinator(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.FindCoordinatorRequest)
	ok, code := func(key string) bool { return z.group(opDescribe, key) }, groupAuthFailed
	if r.CoordinatorType == 1 {
		ok, code = func(key string) bool { return z.txnID(opDescribe, key) }, txnAuthFailed
	}
	if r.Version < 4 {
		if ok(r.CoordinatorKey) {
			return nil, nil, nil
		}
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
		return resp, nil, nil
	}
	refused := split(&r.CoordinatorKeys, func(k *string) bool { return ok(*k) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		fr := resp.(*kmsg.FindCoordinatorResponse)
		for _, k := range refused {
			co := kmsg.NewFindCoordinatorResponseCoordinator()
			co.Key, co.ErrorCode, co.NodeID, co.Port = k, code, -1, -1
			fr.Coordinators = append(fr.Coordinators, co)
		}
	}, nil
}

// memberRule refuses a group membership API (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup) without READ on its group, with
// GROUP_AUTHORIZATION_FAILED in the answer's error code.
func memberRule(group func(kmsg.Request) string, deny func(kmsg.Request) kmsg.Response) authzRule {
	return func(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
		if z.group(opRead, group(req)) {
			return nil, nil, nil
		}
		return deny(req), nil, nil
	}
}

var (
	authorizeJoinGroup = memberRule(func(r kmsg.Request) string { return r.(*kmsg.JoinGroupRequest).Group },
		func(r kmsg.Request) kmsg.Response {
			resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode, resp.Generation = groupAuthFailed, -1
			return resp
		})
	authorizeSyncGroup = memberRule(func(r kmsg.Request) string { return r.(*kmsg.SyncGroupRequest).Group },
		func(r kmsg.Request) kmsg.Response {
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = groupAuthFailed
			return resp
		})
	authorizeHeartbeat = memberRule(func(r kmsg.Request) string { return r.(*kmsg.HeartbeatRequest).Group },
		func(r kmsg.Request) kmsg.Response {
			resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
			resp.ErrorCode = groupAuthFailed
			return resp
		})
	authorizeLeaveGroup = memberRule(func(r kmsg.Request) string { return r.(*kmsg.LeaveGroupRequest).Group },
		func(r kmsg.Request) kmsg.Response {
			resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
			resp.ErrorCode = groupAuthFailed
			return resp
		})
)

func authorizeDescribeGroups(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.DescribeGroupsRequest)
	refused := split(&r.Groups, func(g *string) bool { return z.group(opDescribe, *g) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeGroupsResponse)
		for _, g := range refused {
			rg := kmsg.NewDescribeGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, groupAuthFailed
			dr.Groups = append(dr.Groups, rg)
		}
	}, nil
}

func authorizeListGroups(z *authz, _ kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	if z.cluster(opDescribe) {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListGroupsResponse)
		lr.Groups = filter(lr.Groups, func(g *kmsg.ListGroupsResponseGroup) bool { return z.group(opDescribe, g.Group) })
	}, nil
}

func authorizeDeleteGroups(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.DeleteGroupsRequest)
	refused := split(&r.Groups, func(g *string) bool { return z.group(opDelete, *g) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteGroupsResponse)
		for _, g := range refused {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, groupAuthFailed
			dr.Groups = append(dr.Groups, rg)
		}
	}, nil
}

func authorizeOffsetDelete(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.OffsetDeleteRequest)
	if !z.group(opDelete, r.Group) {
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = groupAuthFailed
		return resp, nil, nil
	}
	refused := split(&r.Topics, func(t *kmsg.OffsetDeleteRequestTopic) bool { return z.topic(opRead, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetDeleteResponse)
		for _, t := range refused {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, topicAuthFailed
				rt.Partitions = append(rt.Partitions, rp)
			}
			or.Topics = append(or.Topics, rt)
		}
	}, nil
}

func authorizeCreateTopics(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.CreateTopicsRequest)
	var refused []kmsg.CreateTopicsRequestTopic
	if !z.cluster(opCreate) {
		refused = split(&r.Topics, func(t *kmsg.CreateTopicsRequestTopic) bool { return z.topic(opCreate, t.Topic) })
	}
	return nil, func(resp kmsg.Response) {
		cr := resp.(*kmsg.CreateTopicsResponse)
		for i := range cr.Topics {
			t := &cr.Topics[i]
			if t.ErrorCode == 0 && !z.topic(opDescribeConfigs, t.Topic) {
				t.Configs, t.ConfigErrorCode = nil, topicAuthFailed
			}
		}
		for _, t := range refused {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, topicAuthFailed
			cr.Topics = append(cr.Topics, rt)
		}
	}, nil
}

func authorizeDeleteTopics(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.DeleteTopicsRequest)
	refusedNames := split(&r.TopicNames, func(t *string) bool { return z.topic(opDelete, *t) })
	refused := split(&r.Topics, func(t *kmsg.DeleteTopicsRequestTopic) bool {
		name := z.topicName(t.Topic, t.TopicID)
		return name == "" || z.topic(opDelete, name)
	})
	if len(refused)+len(refusedNames) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteTopicsResponse)
		for _, name := range refusedNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = &name, topicAuthFailed
			dr.Topics = append(dr.Topics, rt)
		}
		for _, t := range refused {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, topicAuthFailed
			dr.Topics = append(dr.Topics, rt)
		}
	}, nil
}

func authorizeDeleteRecords(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.DeleteRecordsRequest)
	refused := split(&r.Topics, func(t *kmsg.DeleteRecordsRequestTopic) bool { return z.topic(opDelete, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DeleteRecordsResponse)
		for _, t := range refused {
			rt := kmsg.NewDeleteRecordsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteRecordsResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.LowWatermark = p.Partition, topicAuthFailed, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			dr.Topics = append(dr.Topics, rt)
		}
	}, nil
}

func authorizeCreatePartitions(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.CreatePartitionsRequest)
	refused := split(&r.Topics, func(t *kmsg.CreatePartitionsRequestTopic) bool { return z.topic(opAlter, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		cr := resp.(*kmsg.CreatePartitionsResponse)
		for _, t := range refused {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, topicAuthFailed
			cr.Topics = append(cr.Topics, rt)
		}
	}, nil
}

func authorizeOffsetForLeaderEpoch(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.OffsetForLeaderEpochRequest)
	refused := split(&r.Topics, func(t *kmsg.OffsetForLeaderEpochRequestTopic) bool { return z.topic(opDescribe, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		or := resp.(*kmsg.OffsetForLeaderEpochResponse)
		for _, t := range refused {
			rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				rp.Partition, rp.ErrorCode, rp.LeaderEpoch, rp.EndOffset = p.Partition, topicAuthFailed, -1, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			or.Topics = append(or.Topics, rt)
		}
	}, nil
}

// configResourceAllowed checks op on a config resource: a topic, or the
// cluster for broker and broker-logger resources. It returns the error
// code to use when refused.
func (z *authz) configResourceAllowed(op kmsg.ACLOperation, rt kmsg.ConfigResourceType, name string) (bool, int16) {
	if rt == kmsg.ConfigResourceTypeTopic {
		return z.topic(op, name), topicAuthFailed
	}
	return z.cluster(op), clusterAuthFailed
}

// configRule narrows the resources of a config API to those the
// principal may op on, and adds the refused ones to the answer with their
// error (TOPIC_ or CLUSTER_AUTHORIZATION_FAILED).
func configRule[R any](op kmsg.ACLOperation, resources func(kmsg.Request) *[]R, key func(*R) (kmsg.ConfigResourceType, string),
	add func(resp kmsg.Response, rt kmsg.ConfigResourceType, name string, code int16)) authzRule {
	return func(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
		type refusal struct {
			rt   kmsg.ConfigResourceType
			name string
			code int16
		}
		var refused []refusal
		split(resources(req), func(r *R) bool {
			rt, name := key(r)
			ok, code := z.configResourceAllowed(op, rt, name)
			if !ok {
				refused = append(refused, refusal{rt, name, code})
			}
			return ok
		})
		if len(refused) == 0 {
			return nil, nil, nil
		}
		return nil, func(resp kmsg.Response) {
			for _, r := range refused {
				add(resp, r.rt, r.name, r.code)
			}
		}, nil
	}
}

var (
	authorizeDescribeConfigs = configRule(opDescribeConfigs,
		func(req kmsg.Request) *[]kmsg.DescribeConfigsRequestResource {
			return &req.(*kmsg.DescribeConfigsRequest).Resources
		},
		func(r *kmsg.DescribeConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return r.ResourceType, r.ResourceName
		},
		func(resp kmsg.Response, rt kmsg.ConfigResourceType, name string, code int16) {
			rr := kmsg.NewDescribeConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = rt, name, code
			dr := resp.(*kmsg.DescribeConfigsResponse)
			dr.Resources = append(dr.Resources, rr)
		})
	authorizeAlterConfigs = configRule(opAlterConfigs,
		func(req kmsg.Request) *[]kmsg.AlterConfigsRequestResource {
			return &req.(*kmsg.AlterConfigsRequest).Resources
		},
		func(r *kmsg.AlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return r.ResourceType, r.ResourceName
		},
		func(resp kmsg.Response, rt kmsg.ConfigResourceType, name string, code int16) {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = rt, name, code
			ar := resp.(*kmsg.AlterConfigsResponse)
			ar.Resources = append(ar.Resources, rr)
		})
	authorizeIncrementalAlterConfigs = configRule(opAlterConfigs,
		func(req kmsg.Request) *[]kmsg.IncrementalAlterConfigsRequestResource {
			return &req.(*kmsg.IncrementalAlterConfigsRequest).Resources
		},
		func(r *kmsg.IncrementalAlterConfigsRequestResource) (kmsg.ConfigResourceType, string) {
			return r.ResourceType, r.ResourceName
		},
		func(resp kmsg.Response, rt kmsg.ConfigResourceType, name string, code int16) {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = rt, name, code
			ar := resp.(*kmsg.IncrementalAlterConfigsResponse)
			ar.Resources = append(ar.Resources, rr)
		})
)

func authorizeDescribeCluster(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	if z.cluster(opDescribe) {
		return nil, nil, nil
	}
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.ErrorCode = clusterAuthFailed
	return resp, nil, nil
}

func authorizeInitProducerID(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.InitProducerIDRequest)
	var code int16
	switch {
	case r.TransactionalID != nil:
		if !z.txnID(opWrite, *r.TransactionalID) {
			code = txnAuthFailed
		}
	case !z.cluster(opIdempotentWrite) && !z.a.AllowedAny(z.principal, z.host, opWrite, kmsg.ACLResourceTypeTopic):
		code = clusterAuthFailed
	}
	if code == 0 {
		return nil, nil, nil
	}
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, -1, -1
	return resp, nil, nil
}

func authorizeAddPartitionsToTxn(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.AddPartitionsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if r.Version >= 4 { // batched, from brokers verifying transactions
		if z.cluster(opClusterAction) {
			return nil, nil, nil
		}
		resp.ErrorCode = clusterAuthFailed
		return resp, nil, nil
	}
	txnOK := z.txnID(opWrite, r.TransactionalID)
	anyRefused := false
	for _, t := range r.Topics {
		anyRefused = anyRefused || !z.topic(opWrite, t.Topic)
	}
	if txnOK && !anyRefused {
		return nil, nil, nil
	}
	for _, t := range r.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		code := txnAuthFailed
		if txnOK {
			code = kerr.OperationNotAttempted.Code
			if !z.topic(opWrite, t.Topic) {
				code = topicAuthFailed
			}
		}
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil, nil
}

func authorizeAddOffsetsToTxn(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.AddOffsetsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !z.txnID(opWrite, r.TransactionalID):
		resp.ErrorCode = txnAuthFailed
	case !z.group(opRead, r.Group):
		resp.ErrorCode = groupAuthFailed
	default:
		return nil, nil, nil
	}
	return resp, nil, nil
}

func authorizeEndTxn(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.EndTxnRequest)
	if z.txnID(opWrite, r.TransactionalID) {
		return nil, nil, nil
	}
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ErrorCode = txnAuthFailed
	return resp, nil, nil
}

func authorizeTxnOffsetCommit(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.TxnOffsetCommitRequest)
	errs := func(ts []kmsg.TxnOffsetCommitRequestTopic, code int16) []kmsg.TxnOffsetCommitResponseTopic {
		var out []kmsg.TxnOffsetCommitResponseTopic
		for _, t := range ts {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			out = append(out, rt)
		}
		return out
	}
	code := int16(0)
	switch {
	case !z.txnID(opWrite, r.TransactionalID):
		code = txnAuthFailed
	case !z.group(opRead, r.Group):
		code = groupAuthFailed
	}
	if code != 0 {
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		resp.Topics = errs(r.Topics, code)
		return resp, nil, nil
	}
	refused := split(&r.Topics, func(t *kmsg.TxnOffsetCommitRequestTopic) bool { return z.topic(opRead, t.Topic) })
	if len(refused) == 0 {
		return nil, nil, nil
	}
	return nil, func(resp kmsg.Response) {
		tr := resp.(*kmsg.TxnOffsetCommitResponse)
		tr.Topics = append(tr.Topics, errs(refused, topicAuthFailed)...)
	}, nil
}

func authorizeDescribeTransactions(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	r := req.(*kmsg.DescribeTransactionsRequest)
	refused := split(&r.TransactionalIDs, func(id *string) bool { return z.txnID(opDescribe, *id) })
	return nil, func(resp kmsg.Response) {
		dr := resp.(*kmsg.DescribeTransactionsResponse)
		for i := range dr.TransactionStates {
			st := &dr.TransactionStates[i]
			st.Topics = filter(st.Topics, func(t *kmsg.DescribeTransactionsResponseTransactionStateTopic) bool {
				return z.topic(opDescribe, t.Topic)
			})
		}
		for _, id := range refused {
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ErrorCode = id, txnAuthFailed
			st.ProducerID, st.ProducerEpoch = -1, -1
			dr.TransactionStates = append(dr.TransactionStates, st)
		}
	}, nil
}

func authorizeListTransactions(z *authz, _ kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
	return nil, func(resp kmsg.Response) {
		lr := resp.(*kmsg.ListTransactionsResponse)
		lr.TransactionStates = filter(lr.TransactionStates, func(st *kmsg.ListTransactionsResponseTransactionState) bool {
			return z.txnID(opDescribe, st.TransactionalID)
		})
	}, nil
}

// clusterRule refuses the whole request without op on the cluster; the
// ACL and SCRAM APIs' answers carry the error (clusterDenied).
func clusterRule(op kmsg.ACLOperation) authzRule {
	return func(z *authz, req kmsg.Request) (kmsg.Response, func(kmsg.Response), error) {
		if z.cluster(op) {
			return nil, nil, nil
		}
		return clusterDenied(req), nil, nil
	}
}

// clusterDenied answers a cluster-level API with
// CLUSTER_AUTHORIZATION_FAILED on everything it asked for.
func clusterDenied(req kmsg.Request) kmsg.Response {
	msg := "Cluster authorization failed."
	switch r := req.(type) {
	case *kmsg.DescribeACLsRequest:
		resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
		resp.ErrorCode, resp.ErrorMessage = clusterAuthFailed, &msg
		return resp
	case *kmsg.CreateACLsRequest:
		resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
		for range r.Creations {
			res := kmsg.NewCreateACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = clusterAuthFailed, &msg
			resp.Results = append(resp.Results, res)
		}
		return resp
	case *kmsg.DeleteACLsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
		for range r.Filters {
			res := kmsg.NewDeleteACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = clusterAuthFailed, &msg
			resp.Results = append(resp.Results, res)
		}
		return resp
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
		resp.ErrorCode, resp.ErrorMessage = clusterAuthFailed, &msg
		return resp
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		resp := r.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
		users := map[string]bool{}
		for _, d := range r.Deletions {
			users[d.Name] = true
		}
		for _, u := range r.Upsertions {
			users[u.Name] = true
		}
		for _, u := range sortedSet(users) {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode, res.ErrorMessage = u, clusterAuthFailed, &msg
			resp.Results = append(resp.Results, res)
		}
		return resp
	}
	panic(fmt.Sprintf("clusterDenied: %T", req))
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
