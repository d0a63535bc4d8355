package broker

import "testing"

func TestBufPoolClasses(t *testing.T) {
	for _, tc := range []struct{ n, cap int }{
		{0, 4096}, {1, 4096}, {4096, 4096}, {4097, 5120}, {5120, 5120}, {5121, 6144}, {8000, 8192},
		{1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18}, {3 << 19, 3 << 19}, {3<<19 + 1, 7 << 18},
	} {
		b := getBuf(tc.n)
		if len(b) != tc.n || cap(b) != tc.cap {
			t.Errorf("getBuf(%d): len %d cap %d, want len %d cap %d", tc.n, len(b), cap(b), tc.n, tc.cap)
		}
		putBuf(b[:1])
	}
	// Never more than a quarter larger than asked for.
	for n := 4097; n < 1<<22; n = n*9/8 + 1 {
		if _, size := poolClass(n); size < n || size > n+n/4 {
			t.Fatalf("poolClass(%d) = %d", n, size)
		}
	}
	// Too large for a pool: exact size, and putBuf leaves it alone.
	big := getBuf(1<<maxPoolShift*2 + 1)
	if len(big) != 1<<maxPoolShift*2+1 {
		t.Fatalf("len %d", len(big))
	}
	putBuf(big)
	// A recycled buffer comes back at full length for its class.
	b := getBuf(3000)
	b[0] = 7
	putBuf(b)
	if c := getBuf(4096); len(c) != 4096 || cap(c) != 4096 {
		t.Fatalf("after recycling: len %d cap %d", len(c), cap(c))
	}
	// Buffers of other capacities are not pooled.
	putBuf(make([]byte, 5000))
	if c := getBuf(5000); cap(c) != 5120 {
		t.Fatalf("cap %d, want 5120", cap(c))
	}
}
