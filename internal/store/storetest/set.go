package storetest

import "testing"

// testSet is the conformance section of the Set operations.
func (h harness) testSet(t *testing.T) {
	t.Skip("Set operations are not implemented yet")
}
