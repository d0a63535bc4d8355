package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// ACLsFile is the file, in the security directory, that holds the ACLs.
const ACLsFile = "acls.json"

// Authorizer decides requests from the ACLs, as Kafka's standard
// authorizer does: super users may do everything; otherwise a matching
// deny wins over any allow, an allow (of the operation, of ALL, or of an
// operation implying it) grants, and anything else is denied (unless
// AllowIfNoACL and no ACL at all names the resource).
//
// Decisions read an immutable index through an atomic pointer, so the hot
// path takes no lock; changes build a new index and persist ACLsFile
// before publishing it.
type Authorizer struct {
	fs           vfs.FS
	dir          string
	superUsers   map[string]bool
	allowIfNoACL bool

	mu    sync.Mutex // serializes changes (and writes of the file)
	index atomic.Pointer[aclIndex]
}

// AuthorizerConfig configures an Authorizer.
type AuthorizerConfig struct {
	// SuperUsers are principals ("User:admin") allowed everything.
	SuperUsers []string
	// AllowIfNoACL allows access to resources no ACL names
	// (allow.everyone.if.no.acl.found; default false).
	AllowIfNoACL bool
}

// OpenAuthorizer loads the ACLs kept in dir.
func OpenAuthorizer(fs vfs.FS, dir string, cfg AuthorizerConfig) (*Authorizer, error) {
	a := &Authorizer{fs: fs, dir: dir, superUsers: map[string]bool{}, allowIfNoACL: cfg.AllowIfNoACL}
	for _, u := range cfg.SuperUsers {
		a.superUsers[u] = true
	}
	var acls []ACL
	raw, err := fs.ReadFile(path.Join(dir, ACLsFile))
	switch {
	case vfs.IsNotExist(err):
	case err != nil:
		return nil, err
	default:
		var f aclFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path.Join(dir, ACLsFile), err)
		}
		for _, acl := range f.ACLs {
			if err := acl.Validate(); err != nil {
				return nil, fmt.Errorf("%s: %v: %w", ACLsFile, acl, err)
			}
		}
		acls = f.ACLs
	}
	a.index.Store(newIndex(acls))
	return a, nil
}

type aclFile struct {
	ACLs []ACL `json:"acls"`
}

// IsSuperUser reports whether principal is a configured super user.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.superUsers[principal] }

// Authorize reports whether principal, connected from host, may perform op
// on the resource of type rt named name.
func (a *Authorizer) Authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if a.superUsers[principal] {
		return true
	}
	ti := a.index.Load().types[rt]
	if ti == nil {
		return a.allowIfNoACL
	}
	allowed, any := false, false
	visit := func(acls []ACL) bool {
		for i := range acls {
			acl := &acls[i]
			any = true
			if (acl.Principal != principal && acl.Principal != WildcardPrincipal) || (acl.Host != host && acl.Host != WildcardHost) {
				continue
			}
			if acl.Permission == kmsg.ACLPermissionTypeDeny {
				if acl.Operation == op || acl.Operation == kmsg.ACLOperationAll {
					return false
				}
				continue
			}
			if acl.Operation == op || acl.Operation == kmsg.ACLOperationAll || slices.Contains(grantedBy(op), acl.Operation) {
				allowed = true
			}
		}
		return true
	}
	if !visit(ti.literal[name]) || !visit(ti.literal[WildcardResource]) {
		return false
	}
	for _, n := range ti.prefixLens {
		if n > len(name) {
			break
		}
		if !visit(ti.prefixed[name[:n]]) {
			return false
		}
	}
	return allowed || (!any && a.allowIfNoACL)
}

// AllowedAny reports whether principal from host holds an allow ACL for op
// on some resource of type rt that no deny of the same pattern cancels
// (Kafka's authorizeByResourceType, used for idempotent producers: WRITE
// on any topic).
func (a *Authorizer) AllowedAny(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	if a.superUsers[principal] {
		return true
	}
	ti := a.index.Load().types[rt]
	if ti == nil {
		return a.allowIfNoACL
	}
	for _, acl := range ti.all {
		if acl.Permission != kmsg.ACLPermissionTypeAllow || (acl.Operation != op && acl.Operation != kmsg.ACLOperationAll) {
			continue
		}
		if (acl.Principal == principal || acl.Principal == WildcardPrincipal) && (acl.Host == host || acl.Host == WildcardHost) &&
			(acl.PatternType == kmsg.ACLResourcePatternTypePrefixed || a.Authorize(principal, host, op, rt, acl.ResourceName)) {
			return true
		}
	}
	return false
}

// Describe returns the ACLs f selects, in a stable order.
func (a *Authorizer) Describe(f Filter) []ACL {
	var out []ACL
	for _, acl := range a.index.Load().all {
		if f.Matches(acl) {
			out = append(out, acl)
		}
	}
	return out
}

// Create adds acls (an ACL already present is not duplicated) and
// persists them. Each invalid ACL gets its error at its index; valid ones
// are added even if others are not. A persistence failure fails all.
func (a *Authorizer) Create(acls []ACL) ([]error, error) {
	errs := make([]error, len(acls))
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.index.Load().all
	next := slices.Clone(cur)
	for i, acl := range acls {
		if errs[i] = acl.Validate(); errs[i] != nil {
			continue
		}
		if !slices.Contains(next, acl) {
			next = append(next, acl)
		}
	}
	if len(next) == len(cur) {
		return errs, nil
	}
	return errs, a.publishLocked(next)
}

// Delete removes the ACLs each filter selects and persists the rest. It
// returns, per filter, the ACLs it removed.
func (a *Authorizer) Delete(filters []Filter) ([][]ACL, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	removed := make([][]ACL, len(filters))
	var keep []ACL
	for _, acl := range a.index.Load().all {
		matched := false
		for i, f := range filters {
			if f.Matches(acl) {
				removed[i] = append(removed[i], acl)
				matched = true
			}
		}
		if !matched {
			keep = append(keep, acl)
		}
	}
	if len(keep) == len(a.index.Load().all) {
		return removed, nil
	}
	return removed, a.publishLocked(keep)
}

func (a *Authorizer) publishLocked(acls []ACL) error {
	idx := newIndex(acls)
	raw, err := json.MarshalIndent(aclFile{ACLs: idx.all}, "", "  ")
	if err != nil {
		return err
	}
	if err := vfs.MkdirPrivate(a.fs, a.dir); err != nil {
		return err
	}
	if err := vfs.WriteFileAtomic(a.fs, a.dir, ACLsFile, raw); err != nil {
		return errors.Join(errors.New("persisting ACLs"), err)
	}
	a.index.Store(idx)
	return nil
}

// aclIndex is an immutable view of the ACLs, indexed for Authorize: per
// resource type, literal names (including "*") map to their ACLs and
// prefixed patterns are looked up by each distinct prefix length, so a
// decision costs a few map lookups however many ACLs there are.
type aclIndex struct {
	all   []ACL
	types map[kmsg.ACLResourceType]*typeIndex
}

type typeIndex struct {
	all        []ACL
	literal    map[string][]ACL
	prefixed   map[string][]ACL
	prefixLens []int // sorted, distinct
}

func newIndex(acls []ACL) *aclIndex {
	all := slices.Clone(acls)
	sort.SliceStable(all, func(i, j int) bool {
		x, y := all[i], all[j]
		if x.ResourceType != y.ResourceType {
			return x.ResourceType < y.ResourceType
		}
		if x.ResourceName != y.ResourceName {
			return x.ResourceName < y.ResourceName
		}
		return x.PatternType < y.PatternType
	})
	idx := &aclIndex{all: all, types: map[kmsg.ACLResourceType]*typeIndex{}}
	for _, acl := range all {
		ti := idx.types[acl.ResourceType]
		if ti == nil {
			ti = &typeIndex{literal: map[string][]ACL{}, prefixed: map[string][]ACL{}}
			idx.types[acl.ResourceType] = ti
		}
		ti.all = append(ti.all, acl)
		if acl.PatternType == kmsg.ACLResourcePatternTypePrefixed {
			if _, seen := ti.prefixed[acl.ResourceName]; !seen && !slices.Contains(ti.prefixLens, len(acl.ResourceName)) {
				ti.prefixLens = append(ti.prefixLens, len(acl.ResourceName))
			}
			ti.prefixed[acl.ResourceName] = append(ti.prefixed[acl.ResourceName], acl)
		} else {
			ti.literal[acl.ResourceName] = append(ti.literal[acl.ResourceName], acl)
		}
	}
	for _, ti := range idx.types {
		slices.Sort(ti.prefixLens)
	}
	return idx
}
