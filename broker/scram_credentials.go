package broker

// Shared by DescribeUserScramCredentials and AlterUserScramCredentials:
// Kafka's numbering of SCRAM mechanisms.

import "github.com/eddy-streaming/eddy/auth"

func scramMechanismName(m int8) string {
	switch m {
	case 1:
		return auth.ScramSHA256
	case 2:
		return auth.ScramSHA512
	}
	return ""
}

func scramMechanismCode(name string) int8 {
	switch name {
	case auth.ScramSHA256:
		return 1
	case auth.ScramSHA512:
		return 2
	}
	return 0
}
