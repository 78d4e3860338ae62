//! Writes the seed scripts for the `connections` target (`seeds/connections/`): will scenarios
//! encoded with the broker's own codec, so the fuzzer starts from valid sessions and mutates from there.
//! Run: `cargo run --bin make_seeds` in this folder.

use lwt_broker::codec::*;

struct Script(Vec<u8>);

impl Script {
    fn op(&mut self, action: u8, client: u8, arg: u8) -> &mut Self {
        self.0.extend([action * 3 + client, arg]);
        self
    }
    fn open(&mut self, c: u8) -> &mut Self {
        self.op(0, c, 0)
    }
    fn send(&mut self, c: u8, p: Packet, v: ProtocolVersion) -> &mut Self {
        for chunk in p.to_bytes(v).chunks(255) {
            self.op(1, c, chunk.len() as u8);
            self.0.extend_from_slice(chunk);
        }
        self
    }
    fn fin(&mut self, c: u8) -> &mut Self {
        self.op(3, c, 0)
    }
    fn drop_(&mut self, c: u8) -> &mut Self {
        self.op(2, c, 0)
    }
    fn wait(&mut self, tenths: u8) -> &mut Self {
        self.op(4, 0, tenths)
    }
    fn read(&mut self, c: u8) -> &mut Self {
        self.op(5, c, 0)
    }
}

fn connect(v: ProtocolVersion, id: &str, will: bool, delay: u32, expiry: u32, ka: u16) -> Packet {
    let mut c = Connect::new(v, id);
    c.keep_alive = ka;
    if will {
        let mut w = Will { topic: format!("clients/{id}/status"), payload: "offline".into(), qos: QoS::AtLeastOnce, retain: true, properties: Properties::new() };
        if delay > 0 {
            w.properties.push(Property::WillDelayInterval(delay));
        }
        c.will = Some(w);
    }
    if expiry > 0 && v.is_v5() {
        c.properties.push(Property::SessionExpiryInterval(expiry));
    }
    Packet::Connect(c)
}

fn subscribe(filter: &str) -> Packet {
    Packet::Subscribe(Subscribe { packet_id: 1, properties: Properties::new(), filters: vec![(filter.into(), SubOptions::qos(QoS::ExactlyOnce))] })
}

fn main() {
    let v5 = ProtocolVersion::V5;
    let v3 = ProtocolVersion::V311;
    let mut seeds: Vec<(&str, Script)> = Vec::new();
    let mut s = Script(Vec::new());
    s.open(1).send(1, connect(v5, "actuator1", false, 0, 0, 0), v5).send(1, subscribe("clients/+/status"), v5).read(1);
    s.open(0).send(0, connect(v5, "sensor1", true, 0, 0, 60), v5).read(0).fin(0).read(1).wait(1).read(1);
    seeds.push(("will-on-fin-v5", s));
    let mut s = Script(Vec::new());
    s.open(1).send(1, connect(v3, "act", false, 0, 0, 0), v3).send(1, subscribe("#"), v3);
    s.open(0).send(0, connect(v3, "sensor", true, 0, 0, 1), v3).read(0).wait(20).read(1);
    seeds.push(("keep-alive-v311", s));
    let mut s = Script(Vec::new());
    s.open(1).send(1, connect(v5, "act", false, 0, 0, 0), v5).send(1, subscribe("$share/g/clients/#"), v5);
    s.open(0).send(0, connect(v5, "a", true, 2, 10, 60), v5).drop_(0).wait(5);
    s.open(2).send(2, connect(v5, "a", true, 2, 10, 60), v5).read(2).open(0).send(0, connect(v5, "a", true, 0, 0, 60), v5).wait(30).read(1);
    seeds.push(("delay-resume-takeover", s));
    let mut s = Script(Vec::new());
    s.open(0).send(0, connect(v5, "p", false, 0, 0, 0), v5);
    let mut p = Publish::new("t/1", "x");
    p.qos = QoS::ExactlyOnce;
    p.packet_id = Some(7);
    p.retain = true;
    s.send(0, Packet::Publish(p), v5).read(0).send(0, Packet::PubRel(PubResp::new(7)), v5).read(0);
    s.send(0, Packet::Disconnect(Disconnect::new(0x04)), v5).open(1).send(1, connect(v3, "q", false, 0, 0, 0), v3).send(1, subscribe("t/#"), v3).read(1);
    seeds.push(("qos2-retained-disconnect", s));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/connections");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, s) in seeds {
        std::fs::write(dir.join(name), &s.0).unwrap();
    }
}
