package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/docker/distribution/registry/api/errcode"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/pkg/sysregistriesv2"

	"github.com/lodger-containers/lodger/image"
)

// DefaultSearchLimit is how many results Search asks of each registry
// when no limit is given, as podman does.
const DefaultSearchLimit = 25

// SearchResult is one repository a registry matched.
type SearchResult struct {
	// Index is the registry that answered.
	Index string
	// Name is the repository with its registry, pullable as it is.
	Name        string
	Description string
	Stars       int
	Official    bool
	Automated   bool
}

// ErrSearchUnsupported says that a registry refused to list its
// repositories: a Docker Registry v2 search reads the catalog
// (/v2/_catalog), which many registries disable or restrict.
var ErrSearchUnsupported = errors.New("the registry does not support search")

// SearchError carries what each registry that could not be searched
// answered. Answered counts the registries that did answer; their results
// come back with the error.
type SearchError struct {
	Term     string
	Answered int
	Errs     []error
}

func (e *SearchError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("search %s: %s", e.Term, strings.Join(msgs, "; "))
}

func (e *SearchError) Unwrap() []error { return e.Errs }

// Search asks registries for repositories whose name contains term, at
// most limit from each (DefaultSearchLimit when limit is 0). A term of the
// form REGISTRY/TERM (REGISTRY with a dot or a port, or localhost)
// searches that registry only; a plain term searches the
// unqualified-search registries of registries.conf, in order.
//
// Docker Hub answers its v1 search API; other registries are searched
// through their catalog, walked page by page and matched here, since the
// v2 API has no search of its own. Credentials, TLS settings and
// certificates are those a pull from the same registry uses.
func Search(ctx context.Context, term string, limit int, o image.Options) ([]SearchResult, error) {
	if limit < 0 {
		return nil, fmt.Errorf("search %s: the limit must not be negative", term)
	}
	if limit == 0 {
		limit = DefaultSearchLimit
	}
	sys := o.SystemContext()
	registries, query := splitSearchTerm(term)
	if registries == nil {
		var err error
		registries, err = sysregistriesv2.UnqualifiedSearchRegistries(sys)
		if err != nil {
			return nil, fmt.Errorf("search %s: %w", term, err)
		}
		if len(registries) == 0 {
			return nil, fmt.Errorf("search %s: no registry to search: add unqualified-search-registries to registries.conf or search REGISTRY/TERM", term)
		}
	}
	var results []SearchResult
	serr := &SearchError{Term: term}
	for _, reg := range registries {
		found, err := searchRegistry(ctx, reg, query, limit, o)
		if err != nil {
			serr.Errs = append(serr.Errs, err)
			continue
		}
		serr.Answered++
		results = append(results, found...)
	}
	if len(serr.Errs) > 0 {
		return results, serr
	}
	return results, nil
}

// splitSearchTerm separates a registry named in term from what to look
// for in repository names; registries is nil when term names none.
func splitSearchTerm(term string) (registries []string, query string) {
	first, rest, ok := strings.Cut(term, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return []string{first}, rest
	}
	return nil, term
}

func searchRegistry(ctx context.Context, reg, query string, limit int, o image.Options) ([]SearchResult, error) {
	sys := o.SystemContext()
	conf, err := sysregistriesv2.FindRegistry(sys, reg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reg, err)
	}
	if conf != nil && conf.Blocked {
		return nil, fmt.Errorf("%s: the registry is blocked in registries.conf", reg)
	}
	found, err := docker.SearchRegistry(ctx, sys, reg, query, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reg, searchRefusal(err))
	}
	results := make([]SearchResult, 0, len(found))
	for _, f := range found {
		results = append(results, SearchResult{
			Index:       reg,
			Name:        reg + "/" + f.Name,
			Description: f.Description,
			Stars:       f.StarCount,
			Official:    f.IsOfficial,
			Automated:   f.IsAutomated,
		})
	}
	return results, nil
}

// searchRefusal says ErrSearchUnsupported when the registry answered the
// catalog request with an error, and leaves errors of reaching it (which
// net/http reports as *url.Error) as they are. Refusals for want of
// credentials say how to give them.
func searchRefusal(err error) error {
	// containers/image names the registry in a prefix of its own; the
	// caller names it once already.
	if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "couldn't search registry ") {
		err = inner
	}
	var ue *url.Error
	if errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// The registry's error comes as an errcode.Error, or as its bare
	// ErrorCode when the message is the code's default.
	var code errcode.ErrorCode
	var ec errcode.Error
	if errors.As(err, &ec) {
		code = ec.Code
	} else {
		errors.As(err, &code)
	}
	if code == errcode.ErrorCodeUnauthorized || code == errcode.ErrorCodeDenied {
		return fmt.Errorf("%w without credentials that may list its catalog (log in with `lodger login`): %w", ErrSearchUnsupported, err)
	}
	return fmt.Errorf("%w: it refused to list its catalog: %w", ErrSearchUnsupported, err)
}
