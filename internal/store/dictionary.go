package store

// DictionaryStore holds the Dictionary operations of Collections.
type DictionaryStore interface {
}
