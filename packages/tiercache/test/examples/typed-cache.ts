import { type Cache, createDistributedCache } from 'tiercache'

interface User {
  id: number
  name: string
  orders: number[]
}
const db = new Map<number, User>([[1, { id: 1, name: 'Ada', orders: [7, 8] }]])

class UserRepository {
  constructor(private readonly cache: Cache) {}

  get(userId: number): Promise<User | undefined> {
    // getOrSet is get / load / set in one call, with one load per key at a time
    return this.cache.getOrSet(`user:${userId}`, () => db.get(userId), {
      ttl: '1h',
      tags: [`user:${userId}`],
    })
  }

  async update(userId: number, data: Partial<User>): Promise<void> {
    db.set(userId, { ...(db.get(userId) as User), ...data })
    await this.cache.invalidateTags([`user:${userId}`]) // the user and everything derived from it
  }
}

class UserService {
  constructor(
    private readonly cache: Cache,
    private readonly repo: UserRepository,
  ) {}

  summary(userId: number): Promise<{ name: string; orders: number }> {
    return this.cache.getOrSet(
      `user_summary:${userId}`,
      async () => {
        const user = (await this.repo.get(userId)) as User
        return { name: user.name, orders: user.orders.length }
      },
      { ttl: '5m', tags: [`user:${userId}`] },
    )
  }
}

const cache = createDistributedCache({ fallbackToDb: false, env: false, logger: false })
const users = new UserRepository(cache)
const service = new UserService(cache, users)
console.log(await service.summary(1)) // { name: 'Ada', orders: 2 }
await users.update(1, { name: 'Ada Lovelace' })
console.log(await service.summary(1)) // { name: 'Ada Lovelace', orders: 2 }: the tag dropped both entries
await cache.close()
