using Dragonfly.PubSub.Broker.Cli;

return await BrokerCli.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable).ConfigureAwait(false);
