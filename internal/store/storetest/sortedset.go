package storetest

import "testing"

// testSortedSet is the conformance section of the SortedSet operations.
func (h harness) testSortedSet(t *testing.T) {
	t.Skip("SortedSet operations are not implemented yet")
}
