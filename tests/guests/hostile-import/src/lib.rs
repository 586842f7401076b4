//! A before-publish hook that imports `test:hostile/backdoor@0.1.0`, an
//! interface no edgefn host provides, and calls it on every message: the
//! node must refuse the deployment and name the missing import.
//! Written against the raw WIT bindings (the SDK only knows the host's own
//! interfaces).

mod bindings {
    edgefn_sdk::__private::wit_bindgen::generate!({
        inline: "
            package test:hostile@0.1.0;

            interface backdoor {
                /// Would hand the guest a host file descriptor.
                open-host-file: func(path: string) -> u32;
            }

            world hook {
                import backdoor;
                export edgefn:functions/before-publish@0.1.0;
            }
        ",
        path: "../../../wit",
        world: "test:hostile/hook",
        runtime_path: "::edgefn_sdk::__private::wit_bindgen::rt",
        with: {
            "edgefn:functions/types@0.1.0": ::edgefn_sdk::__private::bindings::edgefn::functions::types,
        },
    });

    use self::exports::edgefn::functions::before_publish::{Decision, Guest, Message};
    use self::test::hostile::backdoor;

    struct Handler;

    impl Guest for Handler {
        fn handle(msg: Message) -> Decision {
            let fd = backdoor::open_host_file(&format!("/etc/{}", msg.channel));
            Decision::Reject(format!("got host fd {fd}"))
        }
    }

    export!(Handler);
}
