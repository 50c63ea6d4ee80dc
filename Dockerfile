FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly; dev tools are not installed.
RUN npm ci --omit=dev
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY migrations ./migrations
COPY bin ./bin
COPY tsconfig.json ./
USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
