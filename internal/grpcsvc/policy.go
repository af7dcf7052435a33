package grpcsvc

import (
	"errors"
	"strings"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/auth"
)

// ErrNoAuthRule refuses a call to a method that the authorization policy does
// not know: with auth on, a service registered without rules is closed, not
// open.
var ErrNoAuthRule = errors.New("grpcsvc: method has no authorization rule; refused by default")

// Scope says where an authorized call names the cache it acts on.
type Scope int

// The scopes of the policy.
const (
	// ScopeHeader: the cache is in the "cache" metadata header, read with
	// CacheName, the same function the data handlers use.
	ScopeHeader Scope = iota + 1
	// ScopeBody: the cache is the request's cache_name field. For a server
	// stream the auth interceptor receives the request itself and hands it
	// to the handler only once it is authorized.
	ScopeBody
	// ScopeFiltered: the call spans caches but shows only those the key may
	// see (ListCaches); the handler filters with KeyCanSee.
	ScopeFiltered
	// ScopeAccount: the call acts on the whole server (signing keys,
	// indexes), so only a key valid for every cache may make it.
	ScopeAccount
)

// Rule is what the policy demands of one method.
type Rule struct {
	// Open methods need no key: health, reflection and Ping.
	Open bool
	// Action is the permission the key must grant.
	Action auth.Action
	// Scope says which cache the call is authorized against.
	Scope Scope
}

// openServices need no key for any of their methods. They are gRPC's own
// services, which reveal nothing about caches: health checks and reflection.
var openServices = map[string]bool{
	"grpc.health.v1.Health":                    true,
	"grpc.reflection.v1.ServerReflection":      true,
	"grpc.reflection.v1alpha.ServerReflection": true,
}

// rules is the authorization policy, one entry per method of thaw's own
// services. A method missing here is refused whenever auth is on; the
// server's tests enumerate the registered services to prove every method has
// a rule. Data calls that only read need ActionRead; any call that can change
// an item needs ActionWrite, pops included although they also return what
// they remove. Publishing to a topic needs ActionWrite, subscribing
// ActionRead; both name their cache in the body. Leaderboard calls name
// their cache in the header, like the data plane: changes need ActionWrite,
// reads ActionRead.
var rules = map[string]Rule{
	cachepb.Ping_Ping_FullMethodName: {Open: true},

	// Scalars.
	cachepb.Scs_Get_FullMethodName:            {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_GetWithHash_FullMethodName:    {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_GetBatch_FullMethodName:       {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_KeysExist_FullMethodName:      {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_ItemGetTtl_FullMethodName:     {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_ItemGetType_FullMethodName:    {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_Set_FullMethodName:            {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SetBatch_FullMethodName:       {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SetIf_FullMethodName:          {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SetIfHash_FullMethodName:      {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SetIfNotExists_FullMethodName: {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_Delete_FullMethodName:         {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_Increment_FullMethodName:      {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_UpdateTtl_FullMethodName:      {Action: auth.ActionWrite, Scope: ScopeHeader},

	// Dictionaries.
	cachepb.Scs_DictionaryGet_FullMethodName:       {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_DictionaryFetch_FullMethodName:     {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_DictionaryLength_FullMethodName:    {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_DictionarySet_FullMethodName:       {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_DictionaryIncrement_FullMethodName: {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_DictionaryDelete_FullMethodName:    {Action: auth.ActionWrite, Scope: ScopeHeader},

	// Sets.
	cachepb.Scs_SetFetch_FullMethodName:      {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SetSample_FullMethodName:     {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SetContains_FullMethodName:   {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SetLength_FullMethodName:     {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SetUnion_FullMethodName:      {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SetDifference_FullMethodName: {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SetPop_FullMethodName:        {Action: auth.ActionWrite, Scope: ScopeHeader},

	// Lists.
	cachepb.Scs_ListFetch_FullMethodName:            {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_ListLength_FullMethodName:           {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_ListPushFront_FullMethodName:        {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListPushBack_FullMethodName:         {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListPopFront_FullMethodName:         {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListPopBack_FullMethodName:          {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListRemove_FullMethodName:           {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListConcatenateFront_FullMethodName: {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListConcatenateBack_FullMethodName:  {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListRetain_FullMethodName:           {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_ListErase_FullMethodName:            {Action: auth.ActionWrite, Scope: ScopeHeader},

	// Sorted sets. SortedSetUnionStore needs only write: its sources are in
	// the cache it writes to, and it answers nothing but the new length.
	cachepb.Scs_SortedSetFetch_FullMethodName:         {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SortedSetGetScore_FullMethodName:      {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SortedSetGetRank_FullMethodName:       {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SortedSetLength_FullMethodName:        {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SortedSetLengthByScore_FullMethodName: {Action: auth.ActionRead, Scope: ScopeHeader},
	cachepb.Scs_SortedSetPut_FullMethodName:           {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SortedSetRemove_FullMethodName:        {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SortedSetIncrement_FullMethodName:     {Action: auth.ActionWrite, Scope: ScopeHeader},
	cachepb.Scs_SortedSetUnionStore_FullMethodName:    {Action: auth.ActionWrite, Scope: ScopeHeader},

	// Topics. Keys are scoped by cache only: they name no topics.
	pubsubpb.Pubsub_Publish_FullMethodName:   {Action: auth.ActionWrite, Scope: ScopeBody},
	pubsubpb.Pubsub_Subscribe_FullMethodName: {Action: auth.ActionRead, Scope: ScopeBody},

	// Leaderboards.
	leaderboardpb.Leaderboard_GetLeaderboardLength_FullMethodName: {Action: auth.ActionRead, Scope: ScopeHeader},
	leaderboardpb.Leaderboard_GetByRank_FullMethodName:            {Action: auth.ActionRead, Scope: ScopeHeader},
	leaderboardpb.Leaderboard_GetByScore_FullMethodName:           {Action: auth.ActionRead, Scope: ScopeHeader},
	leaderboardpb.Leaderboard_GetRank_FullMethodName:              {Action: auth.ActionRead, Scope: ScopeHeader},
	leaderboardpb.Leaderboard_GetCompetitionRank_FullMethodName:   {Action: auth.ActionRead, Scope: ScopeHeader},
	leaderboardpb.Leaderboard_UpsertElements_FullMethodName:       {Action: auth.ActionWrite, Scope: ScopeHeader},
	leaderboardpb.Leaderboard_RemoveElements_FullMethodName:       {Action: auth.ActionWrite, Scope: ScopeHeader},
	leaderboardpb.Leaderboard_DeleteLeaderboard_FullMethodName:    {Action: auth.ActionWrite, Scope: ScopeHeader},

	// Control plane.
	controlpb.ScsControl_CreateCache_FullMethodName:      {Action: auth.ActionControl, Scope: ScopeBody},
	controlpb.ScsControl_DeleteCache_FullMethodName:      {Action: auth.ActionControl, Scope: ScopeBody},
	controlpb.ScsControl_FlushCache_FullMethodName:       {Action: auth.ActionControl, Scope: ScopeBody},
	controlpb.ScsControl_ListCaches_FullMethodName:       {Action: auth.ActionControl, Scope: ScopeFiltered},
	controlpb.ScsControl_CreateSigningKey_FullMethodName: {Action: auth.ActionControl, Scope: ScopeAccount},
	controlpb.ScsControl_RevokeSigningKey_FullMethodName: {Action: auth.ActionControl, Scope: ScopeAccount},
	controlpb.ScsControl_ListSigningKeys_FullMethodName:  {Action: auth.ActionControl, Scope: ScopeAccount},
	controlpb.ScsControl_CreateIndex_FullMethodName:      {Action: auth.ActionControl, Scope: ScopeAccount},
	controlpb.ScsControl_DeleteIndex_FullMethodName:      {Action: auth.ActionControl, Scope: ScopeAccount},
	controlpb.ScsControl_ListIndexes_FullMethodName:      {Action: auth.ActionControl, Scope: ScopeAccount},
}

// RuleFor returns the policy's rule for a full gRPC method name
// ("/package.Service/Method") and whether it has one.
func RuleFor(fullMethod string) (Rule, bool) {
	if r, ok := rules[fullMethod]; ok {
		return r, true
	}
	service, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if openServices[service] {
		return Rule{Open: true}, true
	}
	return Rule{}, false
}
