package storetest

import "testing"

// testDictionary is the conformance section of the Dictionary operations.
func (h harness) testDictionary(t *testing.T) {
	t.Skip("Dictionary operations are not implemented yet")
}
