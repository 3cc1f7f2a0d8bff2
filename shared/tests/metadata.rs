//! Cluster metadata on a real cluster: a put is read on every node when it returns, vnodes
//! read it through their context, and a node that missed a put — stopped, cut off, or not
//! yet a member — gets it from the exchange; values and deletes outlive a restart.

use ringcore::testing::TestCluster;
use ringcore::{App, CommandHelp, Error, IndexNode, Node, Vnode, VnodeContext, VnodeMaster};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A vnode that answers what its node's metadata says of a key under `grants`.
struct GrantVnode {
    ctx: VnodeContext,
}

impl Vnode for GrantVnode {
    type Command = String;
    type Reply = Option<String>;
    type CoverageRequest = ();
    type CoverageReply = ();
    type HandoffItem = ();

    fn init(ctx: VnodeContext) -> Result<Self, String> {
        Ok(GrantVnode { ctx })
    }

    fn handle_command(&mut self, key: String) -> Option<String> {
        let value = self.ctx.metadata.get("grants", &key)?;
        Some(value.to_string())
    }

    fn handle_coverage(&mut self, _: ()) {}
}

#[derive(Clone)]
struct GrantApp {
    grants: VnodeMaster<GrantVnode>,
}

impl App for GrantApp {
    const COMMANDS: &'static [CommandHelp] = &[];

    async fn start(node: &Node) -> Result<Self, Error> {
        Ok(GrantApp {
            grants: node.register::<GrantVnode>("grant_vnode"),
        })
    }

    async fn run(&self, command: &str, _: &[&str]) -> Result<String, Error> {
        Err(Self::usage(command))
    }
}

/// Short request timeouts: a put waits at most this for a member that does not answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

async fn joined(n: u32) -> TestCluster<GrantApp> {
    TestCluster::<GrantApp>::start_joined_with(n, |config| {
        config.request_timeout = REQUEST_TIMEOUT;
    })
    .await
}

fn get(cluster: &TestCluster<GrantApp>, k: u32, prefix: &str, key: &str) -> Option<Value> {
    cluster.node(k).metadata().get(prefix, key)
}

/// Waits until every running node holds the same map as devK.
async fn wait_converged(cluster: &TestCluster<GrantApp>, k: u32) {
    cluster
        .wait_until(&format!("every node holds dev{k}'s metadata"), || async {
            let digest = cluster.node(k).metadata().digest();
            cluster
                .running_nodes()
                .all(|n| n.metadata().digest() == digest)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_is_read_on_every_node_when_it_returns() {
    let cluster = joined(3).await;
    let mut changes = cluster.node(3).metadata().subscribe();
    let alice = json!({"name": "Alice", "roles": ["admin"]});
    let dev1 = cluster.node(1).metadata();
    dev1.put("users", "alice", Some(alice.clone()))
        .await
        .unwrap();
    dev1.put("grants", "alice/read", Some(json!(true)))
        .await
        .unwrap();
    // No waiting: the put returned once every node had it.
    for k in 1..=3 {
        assert_eq!(
            get(&cluster, k, "users", "alice"),
            Some(alice.clone()),
            "dev{k}"
        );
        let users = cluster.node(k).metadata().list("users");
        assert_eq!(users, [("alice".to_string(), alice.clone())], "dev{k}");
    }
    assert!(changes.has_changed().unwrap());
    assert!(*changes.borrow_and_update() > 0);

    // Vnodes read it through their context, on every node.
    let ring = cluster.node(1).ring();
    for k in 1..=3 {
        let partition = ring.owned_by(&cluster.name(k)).next().unwrap();
        let target = IndexNode {
            partition,
            node: cluster.name(k),
        };
        let grants = &cluster.app(1).grants;
        let answer = grants.sync_command(&target, "alice/read".into()).await;
        assert_eq!(
            answer.unwrap().as_deref(),
            Some("true"),
            "a vnode on dev{k}"
        );
    }

    // A revoke on another node: gone everywhere when it returns, vnodes included.
    cluster
        .node(2)
        .metadata()
        .put("grants", "alice/read", None)
        .await
        .unwrap();
    for k in 1..=3 {
        assert_eq!(get(&cluster, k, "grants", "alice/read"), None, "dev{k}");
        let partition = ring.owned_by(&cluster.name(k)).next().unwrap();
        let target = IndexNode {
            partition,
            node: cluster.name(k),
        };
        let answer = cluster
            .app(1)
            .grants
            .sync_command(&target, "alice/read".into());
        assert_eq!(answer.await.unwrap(), None, "a vnode on dev{k}");
    }
    wait_converged(&cluster, 1).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_during_puts_catches_up_and_restarts_keep_everything() {
    let mut cluster = joined(3).await;
    let dev1 = cluster.node(1).metadata().clone();
    dev1.put("users", "alice", Some(json!(1))).await.unwrap();
    dev1.put("users", "carol", Some(json!(3))).await.unwrap();
    assert_eq!(get(&cluster, 3, "users", "alice"), Some(json!(1)));

    cluster.stop_node(3).await;
    // dev3 is gone (whether dev1 knows it yet or not): the puts still succeed.
    dev1.put("users", "alice", Some(json!(2))).await.unwrap();
    dev1.put("users", "bob", Some(json!(4))).await.unwrap();
    dev1.put("users", "carol", None).await.unwrap();
    assert_eq!(get(&cluster, 2, "users", "alice"), Some(json!(2)));
    assert_eq!(get(&cluster, 2, "users", "carol"), None);

    // Back with its data directory, dev3 is brought up to date by the exchange, the delete
    // included.
    cluster.start_node(3).await;
    wait_converged(&cluster, 1).await;
    assert_eq!(get(&cluster, 3, "users", "alice"), Some(json!(2)));
    assert_eq!(get(&cluster, 3, "users", "bob"), Some(json!(4)));
    assert_eq!(get(&cluster, 3, "users", "carol"), None);

    // Every node stopped; one started alone has it all, from its own file.
    for k in 1..=3 {
        cluster.stop_node(k).await;
    }
    for k in [3, 1] {
        cluster.start_node(k).await;
        let users = cluster.node(k).metadata().list("users");
        assert_eq!(
            users,
            [
                ("alice".to_string(), json!(2)),
                ("bob".to_string(), json!(4))
            ],
            "dev{k} after a restart"
        );
        cluster.stop_node(k).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_during_a_put_gets_it_when_the_network_heals() {
    let cluster = joined(3).await;
    cluster.stall(3);
    // dev1's put waits for dev3 at most the request timeout, then returns: the change is
    // saved on dev1 and dev2, and will reach dev3.
    let started = Instant::now();
    let dev1 = cluster.node(1).metadata();
    dev1.put("grants", "bob/write", Some(json!(true)))
        .await
        .unwrap();
    assert!(
        started.elapsed() < REQUEST_TIMEOUT * 3,
        "the put took {:?}",
        started.elapsed()
    );
    assert_eq!(get(&cluster, 2, "grants", "bob/write"), Some(json!(true)));
    // dev3 hears nothing while it is cut off, and its own put stays with it.
    cluster
        .node(3)
        .metadata()
        .put("policies", "evict", Some(json!({"max_age_s": 60})))
        .await
        .unwrap();
    assert_eq!(get(&cluster, 3, "grants", "bob/write"), None);
    assert_eq!(get(&cluster, 1, "policies", "evict"), None);

    cluster.unstall(3);
    wait_converged(&cluster, 1).await;
    for k in 1..=3 {
        assert_eq!(get(&cluster, k, "grants", "bob/write"), Some(json!(true)));
        assert_eq!(
            get(&cluster, k, "policies", "evict"),
            Some(json!({"max_age_s": 60}))
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_joins_gets_the_map_and_brings_its_own() {
    let cluster = TestCluster::<GrantApp>::start(3).await;
    cluster.join(2).await;
    let (dev1, dev2) = (cluster.name(1), cluster.name(2));
    cluster
        .wait_until("dev1 and dev2 hold the same ring of two", || async {
            let (a, b) = (cluster.node(1).ring(), cluster.node(2).ring());
            a.members().len() == 2 && a.version() == b.version() && a.is_member(&dev2)
        })
        .await;
    let dev1_metadata = cluster.node(1).metadata();
    dev1_metadata
        .put("users", "alice", Some(json!(1)))
        .await
        .unwrap();
    assert_eq!(get(&cluster, 2, "users", "alice"), Some(json!(1)));
    // dev3, alone in a cluster of its own, is not a member: nothing reaches it.
    assert_eq!(get(&cluster, 3, "users", "alice"), None);
    cluster
        .node(3)
        .metadata()
        .put("users", "zed", Some(json!(26)))
        .await
        .unwrap();
    assert_eq!(get(&cluster, 1, "users", "zed"), None);

    cluster.join(3).await;
    wait_converged(&cluster, 1).await;
    for k in 1..=3 {
        let users: Vec<String> = cluster
            .node(k)
            .metadata()
            .list("users")
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(users, ["alice", "zed"], "dev{k}");
    }
    assert!(cluster.node(3).ring().is_member(&dev1));
    cluster.stop().await;
}
