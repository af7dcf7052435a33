package client

import "google.golang.org/grpc/codes"

// rpc names every RPC the client sends. methods describes each; it is the
// one place that says which calls may be repeated.
type rpc uint8

const (
	rpcGet rpc = iota
	rpcGetBatch
	rpcSet
	rpcSetBatch
	rpcSetIf
	rpcSetIfNotExists
	rpcDelete
	rpcKeysExist
	rpcIncrement
	rpcUpdateTTL
	rpcItemTTL
	rpcItemType
	rpcCreateCache
	rpcDeleteCache
	rpcFlushCache
	rpcListCaches
	rpcPing

	rpcGetWithHash
	rpcSetWithHash
	rpcSetIfHash

	rpcDictionaryGetField
	rpcDictionaryGetFields
	rpcDictionaryFetch
	rpcDictionarySetFields
	rpcDictionaryIncrement
	rpcDictionaryRemoveFields
	rpcDictionaryDelete
	rpcDictionaryLength

	rpcSetFetch
	rpcSetAddElements
	rpcSetRemoveElements
	rpcSetDelete
	rpcSetContainsElements
	rpcSetLength
	rpcSetSample
	rpcSetPop

	rpcListPushFront
	rpcListPushBack
	rpcListConcatenateFront
	rpcListConcatenateBack
	rpcListPopFront
	rpcListPopBack
	rpcListFetch
	rpcListLength
	rpcListRemoveValue
	rpcListRetain
	rpcListErase
	rpcListDelete

	rpcSortedSetPutElements
	rpcSortedSetFetchByRank
	rpcSortedSetFetchByScore
	rpcSortedSetGetScore
	rpcSortedSetGetScores
	rpcSortedSetGetRank
	rpcSortedSetRemoveElements
	rpcSortedSetDelete
	rpcSortedSetIncrementScore
	rpcSortedSetLength
	rpcSortedSetLengthByScore
	rpcSortedSetUnionStore

	rpcPublish
	rpcPublishText

	rpcLeaderboardUpsert
	rpcLeaderboardFetchByRank
	rpcLeaderboardFetchByScore
	rpcLeaderboardGetRank
	rpcLeaderboardGetCompetitionRank
	rpcLeaderboardLength
	rpcLeaderboardRemoveElements
	rpcLeaderboardDelete

	numRPCs
)

// plane says which service an RPC belongs to and so which timeout, metadata
// and authorization it gets.
type plane uint8

const (
	planeData    plane = iota // cache_client.Scs: Config.Timeout, "cache" header, authorization
	planeControl              // control_client.ScsControl: Config.ControlTimeout, authorization
	planePing                 // cache_client.Ping: Config.Timeout, no headers
	// planeTopic is cache_client.pubsub.Pubsub: Config.Timeout; the cache
	// name travels in the body, and the topic calls add the authorization
	// header themselves (topic.go).
	planeTopic
)

// methodInfo describes one RPC.
type methodInfo struct {
	// name is the operation's name in errors and traces: the client method
	// that sends it.
	name string
	// idempotent calls may be sent again: after CANCELLED, INTERNAL or
	// UNAVAILABLE (up to Config.MaxAttempts), and after a failed probe
	// attempt following a gap. Sending one twice leaves the cache as sending
	// it once would, and the reply still tells the caller the truth.
	idempotent bool
	plane      plane
}

// methods is indexed by rpc. Never retried: SetIf, SetIfNotExists and
// Increment (a repeat may apply twice or report "not stored" for a write that
// happened), UpdateTTL (increase/decrease answers depend on the previous
// TTL), CreateCache and DeleteCache (a repeat after a lost reply reports
// "already exists" or "not found" for a change that succeeded).
//
// Collections follow the same rule. Reads are retried, and so are writes
// that leave the same collection however often they are applied: setting
// fields, adding or removing members, putting scores, removing every
// occurrence of a list value, deleting a whole collection. Never retried:
// SetIfHash (like SetIf), increments (DictionaryIncrement,
// SortedSetIncrementScore), pushes and concatenations (a repeat adds the
// values twice), pops (a repeat pops another element and the first is lost),
// ListRetain and ListErase (their indexes apply to the list as it is, so a
// repeat cuts again) and SortedSetUnionStore (its destination may be one of
// its sources). Publish and PublishText are never retried either: a repeat
// after a lost reply delivers the value to every subscriber twice, under two
// sequence numbers.
var methods = [numRPCs]methodInfo{
	rpcGet:            {"Get", true, planeData},
	rpcGetBatch:       {"GetBatch", true, planeData},
	rpcSet:            {"Set", true, planeData},
	rpcSetBatch:       {"SetBatch", true, planeData},
	rpcSetIf:          {"SetIf", false, planeData},
	rpcSetIfNotExists: {"SetIfNotExists", false, planeData},
	rpcDelete:         {"Delete", true, planeData},
	rpcKeysExist:      {"KeysExist", true, planeData},
	rpcIncrement:      {"Increment", false, planeData},
	rpcUpdateTTL:      {"UpdateTTL", false, planeData},
	rpcItemTTL:        {"ItemTTL", true, planeData},
	rpcItemType:       {"ItemType", true, planeData},
	rpcCreateCache:    {"CreateCache", false, planeControl},
	rpcDeleteCache:    {"DeleteCache", false, planeControl},
	rpcFlushCache:     {"FlushCache", true, planeControl},
	rpcListCaches:     {"ListCaches", true, planeControl},
	rpcPing:           {"Ping", true, planePing},

	rpcGetWithHash: {"GetWithHash", true, planeData},
	rpcSetWithHash: {"SetWithHash", true, planeData},
	rpcSetIfHash:   {"SetIfHash", false, planeData},

	rpcDictionaryGetField:     {"DictionaryGetField", true, planeData},
	rpcDictionaryGetFields:    {"DictionaryGetFields", true, planeData},
	rpcDictionaryFetch:        {"DictionaryFetch", true, planeData},
	rpcDictionarySetFields:    {"DictionarySetFields", true, planeData},
	rpcDictionaryIncrement:    {"DictionaryIncrement", false, planeData},
	rpcDictionaryRemoveFields: {"DictionaryRemoveFields", true, planeData},
	rpcDictionaryDelete:       {"DictionaryDelete", true, planeData},
	rpcDictionaryLength:       {"DictionaryLength", true, planeData},

	rpcSetFetch:            {"SetFetch", true, planeData},
	rpcSetAddElements:      {"SetAddElements", true, planeData},
	rpcSetRemoveElements:   {"SetRemoveElements", true, planeData},
	rpcSetDelete:           {"SetDelete", true, planeData},
	rpcSetContainsElements: {"SetContainsElements", true, planeData},
	rpcSetLength:           {"SetLength", true, planeData},
	rpcSetSample:           {"SetSample", true, planeData},
	rpcSetPop:              {"SetPop", false, planeData},

	rpcListPushFront:        {"ListPushFront", false, planeData},
	rpcListPushBack:         {"ListPushBack", false, planeData},
	rpcListConcatenateFront: {"ListConcatenateFront", false, planeData},
	rpcListConcatenateBack:  {"ListConcatenateBack", false, planeData},
	rpcListPopFront:         {"ListPopFront", false, planeData},
	rpcListPopBack:          {"ListPopBack", false, planeData},
	rpcListFetch:            {"ListFetch", true, planeData},
	rpcListLength:           {"ListLength", true, planeData},
	rpcListRemoveValue:      {"ListRemoveValue", true, planeData},
	rpcListRetain:           {"ListRetain", false, planeData},
	rpcListErase:            {"ListErase", false, planeData},
	rpcListDelete:           {"ListDelete", true, planeData},

	rpcSortedSetPutElements:    {"SortedSetPutElements", true, planeData},
	rpcSortedSetFetchByRank:    {"SortedSetFetchByRank", true, planeData},
	rpcSortedSetFetchByScore:   {"SortedSetFetchByScore", true, planeData},
	rpcSortedSetGetScore:       {"SortedSetGetScore", true, planeData},
	rpcSortedSetGetScores:      {"SortedSetGetScores", true, planeData},
	rpcSortedSetGetRank:        {"SortedSetGetRank", true, planeData},
	rpcSortedSetRemoveElements: {"SortedSetRemoveElements", true, planeData},
	rpcSortedSetDelete:         {"SortedSetDelete", true, planeData},
	rpcSortedSetIncrementScore: {"SortedSetIncrementScore", false, planeData},
	rpcSortedSetLength:         {"SortedSetLength", true, planeData},
	rpcSortedSetLengthByScore:  {"SortedSetLengthByScore", true, planeData},
	rpcSortedSetUnionStore:     {"SortedSetUnionStore", false, planeData},

	rpcPublish:     {"Publish", false, planeTopic},
	rpcPublishText: {"PublishText", false, planeTopic},

	// Leaderboards name their cache in the "cache" header, as the data plane
	// does. Every call is retried: upserting the same scores or removing the
	// same ids again leaves the same leaderboard.
	rpcLeaderboardUpsert:             {"LeaderboardUpsert", true, planeData},
	rpcLeaderboardFetchByRank:        {"LeaderboardFetchByRank", true, planeData},
	rpcLeaderboardFetchByScore:       {"LeaderboardFetchByScore", true, planeData},
	rpcLeaderboardGetRank:            {"LeaderboardGetRank", true, planeData},
	rpcLeaderboardGetCompetitionRank: {"LeaderboardGetCompetitionRank", true, planeData},
	rpcLeaderboardLength:             {"LeaderboardLength", true, planeData},
	rpcLeaderboardRemoveElements:     {"LeaderboardRemoveElements", true, planeData},
	rpcLeaderboardDelete:             {"LeaderboardDelete", true, planeData},
}

// retryable reports whether a failure with code may be retried on an
// idempotent call: the codes the Momento SDKs retry, which mean the request
// most likely never reached the handler or failed without effect.
func retryable(code codes.Code) bool {
	switch code {
	case codes.Canceled, codes.Internal, codes.Unavailable:
		return true
	}
	return false
}
