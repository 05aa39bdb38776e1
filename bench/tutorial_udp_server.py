# The tutorial's server as UDP (the tutorial's chapter before TCP sends
# datagrams), rebound to loopback for `make bench`: recvfrom(1024) -> print
# -> sendto the ack, one datagram at a time. As in tutorial_server.py, the
# address comes from argv and the ack ends with "\n".
import socket
import sys


def server():
    udp_server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_server_socket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    print('listening on 127.0.0.1:%d' % udp_server_socket.getsockname()[1], flush=True)
    while True:
        recv_data, client_address = udp_server_socket.recvfrom(1024)
        print('客户端发来的消息:%s' % recv_data.decode('gbk', errors='replace'))
        udp_server_socket.sendto('已收到\n'.encode('utf-8'), client_address)


if __name__ == '__main__':
    server()
