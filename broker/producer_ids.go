package broker

import (
	"encoding/json"
	"fmt"
	"path"
	"sync"

	"github.com/eddy-streaming/eddy/storage/vfs"
)

// producerIDs hands out producer ids. Ids are reserved in blocks: the end
// of the current block is written durably to <data>/producer-ids.json
// before any id from it is used, so an id is never given out twice, even
// across a crash (a crash only skips the rest of a block).
type producerIDs struct {
	b  *Broker
	mu sync.Mutex
	// next is the next id to hand out; end the first id past the block.
	next, end int64
}

const producerIDBlock = 1000

type producerIDFile struct {
	NextBlock int64 `json:"next_block"`
}

func (b *Broker) loadProducerIDs() error {
	p := &producerIDs{b: b}
	raw, err := b.fs.ReadFile(path.Join(b.cfg.dataDir, "producer-ids.json"))
	switch {
	case err == nil:
		var f producerIDFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("reading producer-ids.json: %w", err)
		}
		p.next, p.end = f.NextBlock, f.NextBlock
	case vfs.IsNotExist(err):
	default:
		return err
	}
	b.pids = p
	return nil
}

// allocate returns a producer id never handed out before.
func (p *producerIDs) allocate() (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next >= p.end {
		end := p.end + producerIDBlock
		raw, _ := json.Marshal(producerIDFile{NextBlock: end})
		if err := vfs.WriteFileAtomic(p.b.fs, p.b.cfg.dataDir, "producer-ids.json", raw); err != nil {
			return 0, err
		}
		p.next, p.end = p.end, end
	}
	id := p.next
	p.next++
	return id, nil
}
