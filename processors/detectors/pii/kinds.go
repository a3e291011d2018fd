package pii

import (
	"fmt"
	"math/bits"
)

// Kind is one kind of personal data or secret.
type Kind uint8

// The kinds, in the order of their names (so a KindSet iterates sorted).
const (
	APIKey Kind = iota
	CreditCard
	Email
	IBAN
	IPv4
	IPv6
	JWT
	Phone
	PrivateKey
	USSSN
	numKinds
)

var kindNames = [numKinds]string{"api_key", "credit_card", "email", "iban", "ipv4", "ipv6", "jwt", "phone", "private_key", "us_ssn"}

// String returns the kind's name as it appears in Scores.PIIKinds.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// ParseKinds is the set of the kinds named (see ParseKind); an unknown
// name is an error that quotes it.
func ParseKinds(names []string) (KindSet, error) {
	var set KindSet
	for _, n := range names {
		k, ok := ParseKind(n)
		if !ok {
			return 0, fmt.Errorf("unknown PII kind %q", n)
		}
		set |= Of(k)
	}
	return set, nil
}

// KindSet is a set of kinds.
type KindSet uint32

// AllKinds holds every kind.
const AllKinds KindSet = 1<<numKinds - 1

// Of returns the set of the given kinds.
func Of(kinds ...Kind) KindSet {
	var s KindSet
	for _, k := range kinds {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in s.
func (s KindSet) Has(k Kind) bool { return s&(1<<k) != 0 }

// Kinds returns the kinds of s in name order.
func (s KindSet) Kinds() []Kind {
	out := make([]Kind, 0, bits.OnesCount32(uint32(s)))
	for k := Kind(0); k < numKinds; k++ {
		if s.Has(k) {
			out = append(out, k)
		}
	}
	return out
}
