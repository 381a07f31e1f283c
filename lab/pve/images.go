package pve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Image is one file of the lab's image mirror: the release assets the
// bootstrap downloads (docs/upstream.md#images), served as
// deterministic bytes.
type Image struct {
	URL         string `json:"url"`
	Guest       string `json:"guest"`   // opnsense, nixos
	Version     string `json:"version"` // OS version inside
	VirtualSize int64  `json:"virtual_size"`
	Nominal     int64  `json:"nominal_size"` // size of the real asset (drives the download latency)
	SHA256      string `json:"sha256"`       // of the compressed bytes served
}

// Images is the mirror catalogue: the release assets upstream publishes.
// The firewall image is built from OPNsense 26.1.2
// (TAPPaaS@f54e4fc:.github/workflows/build-opnsense-image.yml:38) and
// opnsense-firewall-v1.1 is the newest release, the one firewall.json
// installs (TAPPaaS@f54e4fc:src/foundation/firewall/firewall.json:54); a
// firewall reaches 26.7 only by being updated after the install.
var Images = []*Image{
	{URL: "https://github.com/TAPPaaS/TAPPaaS/releases/download/opnsense-firewall-v1.1/tappaas-firewall.qcow2.zst", Guest: "opnsense", Version: "26.1.2", VirtualSize: 16 << 30, Nominal: 690 << 20},
	{URL: "https://github.com/TAPPaaS/TAPPaaS/releases/download/nixos-template-v1.2/tappaas-nixos.qcow2.zst", Guest: "nixos", Version: "25.05", VirtualSize: 8 << 30, Nominal: 720 << 20},
	{URL: "https://github.com/TAPPaaS/TAPPaaS/releases/download/nixos-template-v1.3/tappaas-nixos.qcow2.zst", Guest: "nixos", Version: "25.11", VirtualSize: 8 << 30, Nominal: 730 << 20},
}

var imgOnce sync.Once
var imgBytes = map[string][]byte{}

const zstdMagic = "\x28\xb5\x2f\xfd"

// rawImage is the "qcow2" inside: a marker line plus deterministic filler.
func rawImage(img *Image) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "QFI\xfb LAB-IMAGE guest=%s version=%s vsize=%d\n", img.Guest, img.Version, img.VirtualSize)
	seed := sha256.Sum256([]byte(img.URL))
	for b.Len() < 128<<10 {
		b.Write(seed[:])
		seed = sha256.Sum256(seed[:])
	}
	return b.Bytes()
}

// compress wraps data in the lab's zstd framing (the lab's zstd understands it).
func compress(data []byte) []byte {
	return append([]byte(fmt.Sprintf("%sLABZSTD %d\n", zstdMagic, len(data))), data...)
}

// decompress undoes compress; a truncated or foreign file is an error.
func decompress(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(zstdMagic)) {
		return nil, fmt.Errorf("unknown header")
	}
	rest := b[len(zstdMagic):]
	line, body, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || !bytes.HasPrefix(line, []byte("LABZSTD ")) {
		return nil, fmt.Errorf("unsupported frame parameter")
	}
	n, err := strconv.Atoi(string(line[8:]))
	if err != nil || n != len(body) {
		return nil, fmt.Errorf("Read error (39) : premature end")
	}
	return body, nil
}

func initImages() {
	imgOnce.Do(func() {
		for _, img := range Images {
			b := compress(rawImage(img))
			sum := sha256.Sum256(b)
			img.SHA256 = hex.EncodeToString(sum[:])
			imgBytes[img.URL] = b
		}
	})
}

// MirrorFetch returns the bytes at a mirror URL (also "<url>.sha256").
func MirrorFetch(url string) ([]byte, *Image, bool) {
	initImages()
	for _, img := range Images {
		if url == img.URL {
			return imgBytes[url], img, true
		}
		if url == img.URL+".sha256" {
			name := img.URL[strings.LastIndex(img.URL, "/")+1:]
			return []byte(img.SHA256 + "  " + name + "\n"), nil, true
		}
	}
	return nil, nil, false
}

// githubNotFound is GitHub's answer for a release tag it does not know
// (https://docs.github.com/en/rest/releases/releases#get-a-release-by-tag-name
// lists 404 "Resource not found"; the body is GitHub's error object).
const githubNotFound = `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/releases/releases#get-a-release-by-tag-name","status":"404"}`

// ReleaseAPI answers GitHub's "Get a release by tag name",
// GET https://api.github.com/repos/{owner}/{repo}/releases/tags/{tag}, for
// the mirror's releases: the release with assets[] carrying name, size,
// browser_download_url and digest "sha256:<hex>" of the bytes served
// (https://docs.github.com/en/rest/releases/releases#get-a-release-by-tag-name;
// digests since https://github.blog/changelog/2025-06-03-releases-now-expose-digests-for-release-assets/).
// Strict like GitHub: an unknown repository or tag is a 404 with GitHub's
// error body. ok is false for any other URL.
func ReleaseAPI(raw string) (body []byte, status int, ok bool) {
	const prefix = "https://api.github.com/repos/"
	if !strings.HasPrefix(raw, prefix) {
		return nil, 0, false
	}
	rest, _, _ := strings.Cut(strings.TrimPrefix(raw, prefix), "?")
	parts := strings.Split(rest, "/")
	if len(parts) != 5 || parts[2] != "releases" || parts[3] != "tags" {
		return nil, 0, false
	}
	initImages()
	base := "https://github.com/" + parts[0] + "/" + parts[1] + "/releases/download/" + parts[4] + "/"
	type asset struct {
		Name               string `json:"name"`
		State              string `json:"state"`
		ContentType        string `json:"content_type"`
		Size               int    `json:"size"`
		Digest             string `json:"digest"`
		BrowserDownloadURL string `json:"browser_download_url"`
	}
	var assets []asset
	for _, img := range Images {
		if name, found := strings.CutPrefix(img.URL, base); found && !strings.Contains(name, "/") {
			assets = append(assets, asset{Name: name, State: "uploaded", ContentType: "application/zstd",
				Size: len(imgBytes[img.URL]), Digest: "sha256:" + img.SHA256, BrowserDownloadURL: img.URL})
		}
	}
	if len(assets) == 0 {
		return []byte(githubNotFound), 404, true
	}
	b, _ := json.Marshal(map[string]any{"tag_name": parts[4], "name": parts[4], "draft": false, "prerelease": false,
		"html_url": "https://github.com/" + parts[0] + "/" + parts[1] + "/releases/tag/" + parts[4], "assets": assets})
	return b, 200, true
}

// MirrorImages returns the catalogue with checksums filled.
func MirrorImages() []*Image {
	initImages()
	return Images
}

type imageInfo struct {
	Guest, Version string
	VirtualSize    int64
}

// parseImage recognises a decompressed lab image.
func parseImage(b []byte) (imageInfo, bool) {
	if !bytes.HasPrefix(b, []byte("QFI\xfb LAB-IMAGE ")) {
		return imageInfo{}, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	var info imageInfo
	for _, f := range strings.Fields(string(line))[2:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "guest":
			info.Guest = v
		case "version":
			info.Version = v
		case "vsize":
			info.VirtualSize, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return info, info.VirtualSize > 0
}

// downloadTime is the simulated transfer time of an asset at ~60 MB/s.
func downloadTime(nominal int64) time.Duration {
	return time.Duration(float64(nominal) / (60 << 20) * float64(time.Second))
}
