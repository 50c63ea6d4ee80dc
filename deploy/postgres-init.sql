-- Roles for the production-like stack: Temporal owns its databases, Paylinks owns its own.
CREATE ROLE temporal LOGIN PASSWORD 'temporal' CREATEDB;
CREATE ROLE paylinks LOGIN PASSWORD 'paylinks';
CREATE DATABASE paylinks OWNER paylinks;
