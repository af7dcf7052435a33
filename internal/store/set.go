package store

// SetStore holds the Set operations of Collections.
type SetStore interface {
}
