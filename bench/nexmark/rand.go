package nexmark

// javaRandom is the 48-bit linear congruential generator of java.util.Random,
// which the Beam and Flink Nexmark generators draw from. Each event seeds its
// own generator from its id (mixed with splitmix64, since the first outputs of
// java.util.Random for consecutive seeds are correlated), so every event is a
// pure function of its id: the same configuration always yields the same
// events, and any range of ids can be generated independently.
type javaRandom struct{ seed uint64 }

const (
	lcgMultiplier = 0x5DEECE66D
	lcgAddend     = 0xB
	lcgMask       = 1<<48 - 1
)

// eventRandom returns the generator of event id.
func eventRandom(id int64) javaRandom {
	z := uint64(id) + 0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return newJavaRandom(int64(z ^ z>>31))
}

func newJavaRandom(seed int64) javaRandom {
	return javaRandom{seed: (uint64(seed) ^ lcgMultiplier) & lcgMask}
}

func (r *javaRandom) next(bits uint) int32 {
	r.seed = (r.seed*lcgMultiplier + lcgAddend) & lcgMask
	return int32(int64(r.seed) >> (48 - bits))
}

// intn returns a uniform value in [0, n) for n > 0, as Random.nextInt(n).
func (r *javaRandom) intn(n int32) int32 {
	if n&(-n) == n { // power of two
		return int32((int64(n) * int64(r.next(31))) >> 31)
	}
	for {
		bits := r.next(31)
		val := bits % n
		if int64(bits)-int64(val)+int64(n-1) < 1<<31 {
			return val
		}
	}
}

// int32 returns a uniform 32-bit value, as Random.nextInt().
func (r *javaRandom) int32() int32 { return r.next(32) }

// int64n returns a uniform value in [0, n) for n > 0, as the generators'
// LongGenerator.nextLong.
func (r *javaRandom) int64n(n int64) int64 {
	if n < 1<<31-1 {
		return int64(r.intn(int32(n)))
	}
	v := int64(r.next(32))<<32 + int64(r.next(32))
	v %= n
	if v < 0 {
		v = -v
	}
	return v
}

// float64 returns a uniform value in [0, 1), as Random.nextDouble.
func (r *javaRandom) float64() float64 {
	return float64(int64(r.next(26))<<27+int64(r.next(27))) * (1.0 / (1 << 53))
}
