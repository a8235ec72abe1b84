//! Group membership: FindCoordinator (10), JoinGroup (11), Heartbeat (12),
//! LeaveGroup (13), SyncGroup (14), DescribeGroups (15), ListGroups (16),
//! DeleteGroups (42).

use bytes::Bytes;

use crate::codec::wire::{MAX, kafka_struct};

kafka_struct! {
    pub struct FindCoordinatorRequest {
        pub key: String [0, 3],
        /// 0 group, 1 transaction.
        pub key_type: i8 [1, MAX],
        pub coordinator_keys: Vec<String> [4, MAX],
    }
}

kafka_struct! {
    pub struct FindCoordinatorResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub error_code: i16 [0, 3],
        pub error_message: Option<String> [1, 3],
        pub node_id: i32 [0, 3],
        pub host: String [0, 3],
        pub port: i32 [0, 3],
        pub coordinators: Vec<Coordinator> [4, MAX],
    }
}

kafka_struct! {
    pub struct Coordinator {
        pub key: String [0, MAX],
        pub node_id: i32 [0, MAX],
        pub host: String [0, MAX],
        pub port: i32 [0, MAX],
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [0, MAX],
    }
}

kafka_struct! {
    pub struct JoinGroupRequest {
        pub group_id: String [0, MAX],
        pub session_timeout_ms: i32 [0, MAX],
        /// v0 has none: the session timeout doubles as the rebalance timeout.
        pub rebalance_timeout_ms: i32 [1, MAX] = -1,
        pub member_id: String [0, MAX],
        pub group_instance_id: Option<String> [5, MAX],
        pub protocol_type: String [0, MAX],
        pub protocols: Vec<JoinGroupRequestProtocol> [0, MAX],
        pub reason: Option<String> [8, MAX],
    }
}

kafka_struct! {
    pub struct JoinGroupRequestProtocol {
        pub name: String [0, MAX],
        pub metadata: Bytes [0, MAX],
    }
}

kafka_struct! {
    pub struct JoinGroupResponse {
        pub throttle_time_ms: i32 [2, MAX],
        pub error_code: i16 [0, MAX],
        pub generation_id: i32 [0, MAX] = -1,
        pub protocol_type: Option<String> [7, MAX],
        /// Nullable only from v7; always set before that.
        pub protocol_name: Option<String> [0, MAX],
        pub leader: String [0, MAX],
        pub skip_assignment: bool [9, MAX],
        pub member_id: String [0, MAX],
        pub members: Vec<JoinGroupResponseMember> [0, MAX],
    }
}

kafka_struct! {
    pub struct JoinGroupResponseMember {
        pub member_id: String [0, MAX],
        pub group_instance_id: Option<String> [5, MAX],
        pub metadata: Bytes [0, MAX],
    }
}

kafka_struct! {
    pub struct HeartbeatRequest {
        pub group_id: String [0, MAX],
        pub generation_id: i32 [0, MAX],
        pub member_id: String [0, MAX],
        pub group_instance_id: Option<String> [3, MAX],
    }
}

kafka_struct! {
    pub struct HeartbeatResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub error_code: i16 [0, MAX],
    }
}

kafka_struct! {
    pub struct LeaveGroupRequest {
        pub group_id: String [0, MAX],
        pub member_id: String [0, 2],
        pub members: Vec<MemberIdentity> [3, MAX],
    }
}

kafka_struct! {
    pub struct MemberIdentity {
        pub member_id: String [0, MAX],
        pub group_instance_id: Option<String> [0, MAX],
        pub reason: Option<String> [5, MAX],
    }
}

kafka_struct! {
    pub struct LeaveGroupResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub error_code: i16 [0, MAX],
        pub members: Vec<MemberResponse> [3, MAX],
    }
}

kafka_struct! {
    pub struct MemberResponse {
        pub member_id: String [0, MAX],
        pub group_instance_id: Option<String> [0, MAX],
        pub error_code: i16 [0, MAX],
    }
}

kafka_struct! {
    pub struct SyncGroupRequest {
        pub group_id: String [0, MAX],
        pub generation_id: i32 [0, MAX],
        pub member_id: String [0, MAX],
        pub group_instance_id: Option<String> [3, MAX],
        pub protocol_type: Option<String> [5, MAX],
        pub protocol_name: Option<String> [5, MAX],
        pub assignments: Vec<SyncGroupRequestAssignment> [0, MAX],
    }
}

kafka_struct! {
    pub struct SyncGroupRequestAssignment {
        pub member_id: String [0, MAX],
        pub assignment: Bytes [0, MAX],
    }
}

kafka_struct! {
    pub struct SyncGroupResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub error_code: i16 [0, MAX],
        pub protocol_type: Option<String> [5, MAX],
        pub protocol_name: Option<String> [5, MAX],
        pub assignment: Bytes [0, MAX],
    }
}

kafka_struct! {
    pub struct DescribeGroupsRequest {
        pub groups: Vec<String> [0, MAX],
        pub include_authorized_operations: bool [3, MAX],
    }
}

kafka_struct! {
    pub struct DescribeGroupsResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub groups: Vec<DescribedGroup> [0, MAX],
    }
}

kafka_struct! {
    pub struct DescribedGroup {
        pub error_code: i16 [0, MAX],
        pub error_message: Option<String> [6, MAX],
        pub group_id: String [0, MAX],
        pub group_state: String [0, MAX],
        pub protocol_type: String [0, MAX],
        pub protocol_data: String [0, MAX],
        pub members: Vec<DescribedGroupMember> [0, MAX],
        pub authorized_operations: i32 [3, MAX] = i32::MIN,
    }
}

kafka_struct! {
    pub struct DescribedGroupMember {
        pub member_id: String [0, MAX],
        pub group_instance_id: Option<String> [4, MAX],
        pub client_id: String [0, MAX],
        pub client_host: String [0, MAX],
        pub member_metadata: Bytes [0, MAX],
        pub member_assignment: Bytes [0, MAX],
    }
}

kafka_struct! {
    pub struct ListGroupsRequest {
        pub states_filter: Vec<String> [4, MAX],
        /// "classic" or "consumer" (KIP-848); every group here is classic.
        pub types_filter: Vec<String> [5, MAX],
    }
}

kafka_struct! {
    pub struct ListGroupsResponse {
        pub throttle_time_ms: i32 [1, MAX],
        pub error_code: i16 [0, MAX],
        pub groups: Vec<ListedGroup> [0, MAX],
    }
}

kafka_struct! {
    pub struct ListedGroup {
        pub group_id: String [0, MAX],
        pub protocol_type: String [0, MAX],
        pub group_state: String [4, MAX],
        pub group_type: String [5, MAX],
    }
}

kafka_struct! {
    pub struct DeleteGroupsRequest {
        pub groups_names: Vec<String> [0, MAX],
    }
}

kafka_struct! {
    pub struct DeleteGroupsResponse {
        pub throttle_time_ms: i32 [0, MAX],
        pub results: Vec<DeletableGroupResult> [0, MAX],
    }
}

kafka_struct! {
    pub struct DeletableGroupResult {
        pub group_id: String [0, MAX],
        pub error_code: i16 [0, MAX],
    }
}
