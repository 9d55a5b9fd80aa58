//! What a power cut leaves: the durable state alone, or with some of the
//! sectors written and not synced (a torn write); and the durable tree as
//! files, to open elsewhere.

use super::disk::{Body, Bytes, Counts, Disk, Ino, Kind, Meta, Node, PAGE, ROOT, SECTOR};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;

/// What a power cut keeps of the writes not yet synced.
#[derive(Clone, Copy, Debug)]
pub enum Tear {
    /// Nothing.
    None,
    /// Each unsynced sector with even odds (from this seed).
    Sectors(u64),
}

/// A durable file tree, as it would be found after a power cut.
#[derive(Clone)]
pub enum Image {
    File(Bytes, Meta),
    Dir(BTreeMap<OsString, Image>, Meta),
    Symlink(OsString),
}

impl Disk {
    /// A disk with the durable state alone: what a machine finds when the
    /// power comes back.
    pub fn power_on(&self) -> Disk {
        self.power_on_with(Tear::None)
    }

    /// A disk of what survives a cut that tears as `tear` says.
    pub fn power_on_with(&self, tear: Tear) -> Disk {
        let torn = self.torn(tear);
        let this = torn.as_ref().unwrap_or(self);
        let mut nodes = HashMap::new();
        let mut links: HashMap<Ino, u32> = HashMap::new();
        let mut queue = vec![(ROOT, ROOT)];
        while let Some((ino, parent)) = queue.pop() {
            *links.entry(ino).or_default() += 1;
            if nodes.contains_key(&ino) {
                continue;
            }
            let node = &this.nodes[&ino];
            let body = match &node.body {
                Body::File { durable, .. } => Body::File {
                    now: durable.clone(),
                    durable: durable.clone(),
                    dirty: BTreeSet::new(),
                },
                Body::Dir { durable, .. } => {
                    for child in durable.values() {
                        queue.push((*child, ino));
                    }
                    Body::Dir {
                        now: durable.clone(),
                        durable: durable.clone(),
                        parent,
                    }
                }
                other => other.clone(),
            };
            nodes.insert(
                ino,
                Node {
                    kind: node.kind,
                    meta: node.meta,
                    links: 0,
                    body,
                },
            );
        }
        for (ino, count) in links {
            if let Some(node) = nodes.get_mut(&ino) {
                node.links = if node.kind == Kind::Dir { 1 } else { count };
            }
        }
        Disk {
            nodes,
            next_ino: this.next_ino,
            dead: false,
            names: this.names,
            renamed: BTreeSet::new(),
            synced: HashMap::new(),
            syncs_begun: 0,
            cut_after: None,
            bad_reads: None,
            counts: Counts::default(),
        }
    }

    /// The durable tree under the root.
    pub fn durable_image(&self) -> Image {
        self.image_of(ROOT, 0)
    }

    /// The tree a cut that tears as `tear` says would leave.
    pub fn image_after(&self, tear: Tear) -> Image {
        match self.torn(tear) {
            Some(torn) => torn.image_of(ROOT, 0),
            None => self.image_of(ROOT, 0),
        }
    }

    /// A copy whose durable bytes hold, besides, the unsynced sectors the
    /// tear keeps (`None` when it keeps none).
    fn torn(&self, tear: Tear) -> Option<Disk> {
        use rand::{Rng, SeedableRng};
        let Tear::Sectors(seed) = tear else {
            return None;
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut copy = Disk {
            nodes: self.nodes.clone(),
            next_ino: self.next_ino,
            dead: self.dead,
            names: self.names,
            renamed: self.renamed.clone(),
            synced: self.synced.clone(),
            syncs_begun: self.syncs_begun,
            cut_after: None,
            bad_reads: None,
            counts: self.counts,
        };
        let mut inos: Vec<Ino> = copy.nodes.keys().copied().collect();
        inos.sort_unstable();
        for ino in inos {
            let Some(Node {
                body:
                    Body::File {
                        now,
                        durable,
                        dirty,
                    },
                ..
            }) = copy.nodes.get_mut(&ino)
            else {
                continue;
            };
            for page in dirty.iter() {
                let start = page * PAGE;
                for sector in 0..PAGE / SECTOR {
                    if !rng.gen_bool(0.5) {
                        continue;
                    }
                    let at = start + sector * SECTOR;
                    if at >= now.len() {
                        continue;
                    }
                    let bytes = now.read(at, SECTOR);
                    let mut ignored = BTreeSet::new();
                    durable.write(at, &bytes, &mut ignored);
                }
            }
        }
        Some(copy)
    }

    fn image_of(&self, ino: Ino, depth: usize) -> Image {
        let node = &self.nodes[&ino];
        match &node.body {
            Body::File { durable, .. } => Image::File(durable.clone(), node.meta),
            Body::Dir { durable, .. } if depth < 64 => Image::Dir(
                durable
                    .iter()
                    .map(|(name, child)| (name.clone(), self.image_of(*child, depth + 1)))
                    .collect(),
                node.meta,
            ),
            Body::Dir { .. } => Image::Dir(BTreeMap::new(), node.meta),
            Body::Symlink(target) => Image::Symlink(target.clone()),
            Body::Special => Image::File(Bytes::default(), node.meta),
        }
    }
}
