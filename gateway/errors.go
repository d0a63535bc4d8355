package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// statusOf maps an error to its HTTP status and message: the gateway's own
// errors carry theirs, Kafka error codes map to the nearest HTTP meaning,
// and anything else is a 500 (or 503 when the cluster cannot be reached).
func statusOf(err error) (int, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.msg
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "request body is larger than the limit of " + itoa(mbe.Limit) + " bytes"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout, "the broker did not answer in time"
	}
	if errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, context.Canceled) {
		return http.StatusServiceUnavailable, "the gateway is shutting down"
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		msg := err.Error()
		switch ke {
		case kerr.UnknownTopicOrPartition:
			msg = "topic or partition does not exist (" + msg + ")"
		case kerr.GroupIDNotFound:
			msg = "group does not exist (" + msg + ")"
		}
		return kafkaStatus(ke), msg
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) {
		return http.StatusServiceUnavailable, "cannot reach the broker: " + err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

func kafkaStatus(ke *kerr.Error) int {
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.GroupIDNotFound:
		return http.StatusNotFound
	case kerr.TopicAlreadyExists, kerr.NonEmptyGroup:
		return http.StatusConflict
	case kerr.InvalidTopicException, kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
		kerr.InvalidConfig, kerr.InvalidRequest, kerr.InvalidRecord, kerr.InvalidTimestamp,
		kerr.CorruptMessage, kerr.InvalidGroupID, kerr.PolicyViolation, kerr.OffsetOutOfRange:
		return http.StatusBadRequest
	case kerr.MessageTooLarge, kerr.RecordListTooLarge:
		return http.StatusRequestEntityTooLarge
	case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed:
		return http.StatusForbidden
	case kerr.RequestTimedOut:
		return http.StatusGatewayTimeout
	case kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress, kerr.NotCoordinator,
		kerr.LeaderNotAvailable, kerr.NotLeaderForPartition, kerr.BrokerNotAvailable,
		kerr.KafkaStorageError, kerr.NotEnoughReplicas:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
