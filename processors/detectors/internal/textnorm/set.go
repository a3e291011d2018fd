package textnorm

// Set is an open-addressing set of token hashes with linear probing. It is
// used instead of a Go map because clearing and probing a flat slice costs a
// few nanoseconds per token and no allocation once the slice has grown, and a
// detector builds one per event. The zero value is ready to use; call Reset
// before each use.
type Set struct {
	slots []uint64 // 0 means empty; hash 0 is stored as zeroKey
	mask  uint64
	n     int
}

// zeroKey stands in for the hash 0 so that 0 can mark an empty slot.
const zeroKey = 0x9e3779b97f4a7c15

// Reset empties the set and sizes it for about n keys.
func (s *Set) Reset(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(s.slots) >= size {
		s.slots = s.slots[:size]
		clear(s.slots)
	} else {
		s.slots = make([]uint64, size)
	}
	s.mask = uint64(size - 1)
	s.n = 0
}

// Len returns the number of keys.
func (s *Set) Len() int { return s.n }

// Add inserts h and reports whether it was new.
func (s *Set) Add(h uint64) bool {
	if h == 0 {
		h = zeroKey
	}
	if len(s.slots) == 0 || 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	i := mix(h) & s.mask
	for {
		v := s.slots[i]
		if v == 0 {
			s.slots[i] = h
			s.n++
			return true
		}
		if v == h {
			return false
		}
		i = (i + 1) & s.mask
	}
}

// Has reports whether h is in the set.
func (s *Set) Has(h uint64) bool {
	if len(s.slots) == 0 {
		return false
	}
	if h == 0 {
		h = zeroKey
	}
	i := mix(h) & s.mask
	for {
		v := s.slots[i]
		if v == h {
			return true
		}
		if v == 0 {
			return false
		}
		i = (i + 1) & s.mask
	}
}

func (s *Set) grow() {
	old := s.slots
	size := 2 * len(old)
	if size < 16 {
		size = 16
	}
	s.slots = make([]uint64, size)
	s.mask = uint64(size - 1)
	s.n = 0
	for _, v := range old {
		if v != 0 {
			s.Add(v)
		}
	}
}

// mix spreads the bits of an FNV hash so the low bits index well.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// Counter is a multiset of hashes (open addressing, like Set).
type Counter struct {
	keys   []uint64
	counts []int32
	mask   uint64
	n      int
}

// Reset empties the counter and sizes it for about n distinct keys.
func (c *Counter) Reset(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(c.keys) >= size {
		c.keys = c.keys[:size]
		c.counts = c.counts[:size]
		clear(c.keys)
		clear(c.counts)
	} else {
		c.keys = make([]uint64, size)
		c.counts = make([]int32, size)
	}
	c.mask = uint64(size - 1)
	c.n = 0
}

// Add adds d to the count of h and returns the new count.
func (c *Counter) Add(h uint64, d int32) int32 {
	if h == 0 {
		h = zeroKey
	}
	if len(c.keys) == 0 || 2*(c.n+1) > len(c.keys) {
		c.grow()
	}
	i := mix(h) & c.mask
	for {
		v := c.keys[i]
		if v == 0 {
			c.keys[i] = h
			c.counts[i] = d
			c.n++
			return d
		}
		if v == h {
			c.counts[i] += d
			return c.counts[i]
		}
		i = (i + 1) & c.mask
	}
}

// Get returns the count of h (0 if absent).
func (c *Counter) Get(h uint64) int32 {
	if len(c.keys) == 0 {
		return 0
	}
	if h == 0 {
		h = zeroKey
	}
	i := mix(h) & c.mask
	for {
		v := c.keys[i]
		if v == h {
			return c.counts[i]
		}
		if v == 0 {
			return 0
		}
		i = (i + 1) & c.mask
	}
}

func (c *Counter) grow() {
	oldK, oldC := c.keys, c.counts
	size := 2 * len(oldK)
	if size < 16 {
		size = 16
	}
	c.keys = make([]uint64, size)
	c.counts = make([]int32, size)
	c.mask = uint64(size - 1)
	c.n = 0
	for i, v := range oldK {
		if v != 0 {
			c.Add(v, oldC[i])
		}
	}
}
