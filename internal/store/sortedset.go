package store

// SortedSetStore holds the SortedSet operations of Collections.
type SortedSetStore interface {
}
