// @tollgate/core/testing: the store contract suite and test helpers for store authors.
export { storeContractSuite, TestClock, CONTRACT_CONFIG, type ContractStoreFactory } from './contract';
