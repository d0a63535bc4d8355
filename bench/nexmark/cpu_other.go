//go:build !unix

package nexmark

import "time"

// processCPU is not measured on this platform: figures per core are then
// not reported.
func processCPU() time.Duration { return 0 }
