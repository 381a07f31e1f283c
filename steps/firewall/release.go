package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps/node"
)

// Published is an image checksum as its publisher states it.
type Published struct {
	SHA256 string // lower-case hex
	// Source says where it was read, for the operator ("GitHub release
	// opnsense-firewall-v1.1 of TAPPaaS/TAPPaaS, asset digest").
	Source string
}

// ErrNoPublishedSum says the publisher states no checksum for the image
// (not a GitHub release asset, an unknown release or asset, or an asset
// without a digest). The operator then types the checksum.
var ErrNoPublishedSum = errors.New("no published checksum")

var releaseAssetRe = regexp.MustCompile(`^/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/releases/download/([^/]+)/([^/]+)$`)

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// releaseJSON is the part of GitHub's "Get a release by tag name" answer we
// read: GET /repos/{owner}/{repo}/releases/tags/{tag} returns the release
// with assets[], each with name and digest ("sha256:<hex>", null for assets
// uploaded before GitHub computed digests)
// (https://docs.github.com/en/rest/releases/releases#get-a-release-by-tag-name;
// digests since https://github.blog/changelog/2025-06-03-releases-now-expose-digests-for-release-assets/).
type releaseJSON struct {
	TagName string `json:"tag_name"`
	Assets  []struct {
		Name   string  `json:"name"`
		Digest *string `json:"digest"`
	} `json:"assets"`
}

// PublishedSum reads the SHA-256 that GitHub publishes for a release asset
// URL (https://github.com/OWNER/REPO/releases/download/TAG/NAME). The
// release API is fetched by curl on the node e, the machine that downloads
// the image (it has internet; the operator's machine may not), over
// curl's system trust store. An error matching ErrNoPublishedSum means there
// is nothing published to use; any other error means it could not be read.
func PublishedSum(ctx context.Context, e exec.Executor, assetURL string) (Published, error) {
	u, err := url.Parse(assetURL)
	if err != nil || u.Scheme != "https" || u.Host != "github.com" {
		return Published{}, fmt.Errorf("%w: %s is not a GitHub release asset", ErrNoPublishedSum, assetURL)
	}
	m := releaseAssetRe.FindStringSubmatch(u.Path)
	if m == nil {
		return Published{}, fmt.Errorf("%w: %s is not a GitHub release asset", ErrNoPublishedSum, assetURL)
	}
	owner, repo, tag, name := m[1], m[2], m[3], m[4]
	api := fmt.Sprintf("https://api.github.com/repos/%s/%s/releases/tags/%s", owner, repo, url.PathEscape(tag))
	out, err := node.Query(ctx, e, exec.Join("curl", "-fsSL", "--connect-timeout", "20", "--max-time", "60",
		"-H", "Accept: application/vnd.github+json", "-H", "X-GitHub-Api-Version: 2022-11-28", api))
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Code == 22 && strings.Contains(ee.Stderr, "404") {
			return Published{}, fmt.Errorf("%w: GitHub has no release %q in %s/%s", ErrNoPublishedSum, tag, owner, repo)
		}
		return Published{}, fmt.Errorf("read the release %s of %s/%s from api.github.com on %s: %w", tag, owner, repo, e.Target(), err)
	}
	var rel releaseJSON
	if err := json.Unmarshal([]byte(out), &rel); err != nil {
		return Published{}, fmt.Errorf("release %s of %s/%s: unexpected answer from api.github.com: %w", tag, owner, repo, err)
	}
	for _, a := range rel.Assets {
		if a.Name != name {
			continue
		}
		if a.Digest == nil || !digestRe.MatchString(*a.Digest) {
			return Published{}, fmt.Errorf("%w: the release %s of %s/%s gives no sha256 digest for %s", ErrNoPublishedSum, tag, owner, repo, name)
		}
		return Published{
			SHA256: strings.TrimPrefix(*a.Digest, "sha256:"),
			Source: fmt.Sprintf("GitHub release %s of %s/%s, asset digest", tag, owner, repo),
		}, nil
	}
	return Published{}, fmt.Errorf("%w: the release %s of %s/%s has no asset %s", ErrNoPublishedSum, tag, owner, repo, name)
}
